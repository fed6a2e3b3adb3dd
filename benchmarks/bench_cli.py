"""Speed of the fronts, measured (not asserted): run `python benchmarks/bench_cli.py`.

1. `swebench --help` against `doit --help` (hyperfine when installed, else a timer loop).
2. An up-to-date `swebench run` (N cached patches, harness not started) against plain
   `doit` on an up-to-date graph of the same size.
3. Generation of 40 instances against the local OpenAI-protocol server with 250 ms
   latency: `--max-workers 8` against `--max-workers 1` (ideal speed-up 8x).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.providers import KEYS, OpenAIServer  # noqa: E402

N = 40
SWEBENCH = [sys.executable, "-m", "swebench_tasks"]
DOIT = [sys.executable, "-m", "doit"]
DIFF = "```diff\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n```\n"

PLAIN_DODO = '''
import os
DOIT_CONFIG = {"backend": "sqlite3", "dep_file": ".doit.sqlite3", "default_tasks": ["report"], "verbosity": 0}
IDS = [f"i-{n}" for n in range(%d)]
def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "w").write(text)
def task_generate():
    for i in IDS:
        path = f"gen/{i}.json"
        yield {"name": i, "actions": [(_write, [path, "x"])], "targets": [path],
               "uptodate": [lambda path=path: os.path.exists(path)]}
def task_predictions():
    return {"actions": ["cat gen/*.json > predictions.jsonl"], "file_dep": [f"gen/{i}.json" for i in IDS],
            "targets": ["predictions.jsonl"]}
def task_report():
    return {"actions": ["cp predictions.jsonl report.json"], "file_dep": ["predictions.jsonl"], "targets": ["report.json"]}
'''  # % the number of generate tasks


def timeit(cmd: list[str], cwd: Path, env: dict, runs: int = 10) -> tuple[float, float]:
    """Mean and stdev in seconds (hyperfine when available)."""
    if shutil.which("hyperfine"):
        out = Path(tempfile.mkdtemp()) / "h.json"
        subprocess.run(["hyperfine", "-N", "--warmup", "2", "--runs", str(runs), "--export-json", str(out),
                        " ".join(cmd)], cwd=cwd, env=env, capture_output=True, check=True)
        result = json.loads(out.read_text())["results"][0]
        return result["mean"], result["stddev"] or 0.0
    samples = []
    for _ in range(runs + 2):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, check=True)
        samples.append(time.perf_counter() - start)
    samples = samples[2:]
    return statistics.mean(samples), statistics.stdev(samples)


def dataset(path: Path, n: int) -> None:
    rows = [{"instance_id": f"acme__calc-{i}", "repo": "acme/calc", "base_commit": "0" * 40,
             "problem_statement": f"add() subtracts ({i})", "patch": ""} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def run_args(workers: int) -> list[str]:
    return [*SWEBENCH, "run", "--no-input", "--json", "--provider", "openai", "--model", "gpt-4o-mini",
            "--context", "statement", "--generate-only", "-d", "data.jsonl", "--max-workers", str(workers)]


def main() -> None:
    server = OpenAIServer().start()
    server.on_chat = lambda body: DIFF
    env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": KEYS["openai"],
           "SWEBENCH_CONFIG_DIR": tempfile.mkdtemp()}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # any value turns bytecode caching off; users have it on
    rows = []
    try:
        work = Path(tempfile.mkdtemp(prefix="swebench-bench-"))
        help_s = timeit([*SWEBENCH, "--help"], work, env)
        doit_help = timeit([*DOIT, "--help"], work, env)
        rows.append(("swebench --help", help_s, doit_help))

        dataset(work / "data.jsonl", N)
        subprocess.run(run_args(8), cwd=work, env=env, capture_output=True, check=True)
        plain = Path(tempfile.mkdtemp(prefix="doit-bench-"))
        (plain / "dodo.py").write_text(PLAIN_DODO % N)
        subprocess.run(DOIT, cwd=plain, env=env, capture_output=True, check=True)
        rows.append((f"up-to-date run, {N} instances", timeit(run_args(8), work, env),
                     timeit(DOIT, plain, env)))

        print(f"{'what':34} {'swebench':>16} {'doit':>16} {'ratio':>7}")
        for name, (ours, ours_sd), (base, base_sd) in rows:
            print(f"{name:34} {ours * 1000:9.0f} ±{ours_sd * 1000:4.0f} ms {base * 1000:9.0f} ±{base_sd * 1000:4.0f} ms "
                  f"{ours / base:6.2f}x")

        # The generation phase: from the first chat request's arrival to the last reply
        # (arrival + latency), as the server saw it; the wall time of the run is shown too.
        server.delay = 0.25
        span, wall = {}, {}
        for workers in (1, 8):
            fresh = Path(tempfile.mkdtemp(prefix="swebench-gen-"))
            dataset(fresh / "data.jsonl", N)
            server.requests.clear()
            start = time.perf_counter()
            subprocess.run(run_args(workers), cwd=fresh, env=env, capture_output=True, check=True)
            wall[workers] = time.perf_counter() - start
            arrivals = [r.at for r in server.requests if r.path.endswith("/chat/completions")]
            span[workers] = max(arrivals) + server.delay - min(arrivals)
        speedup = span[1] / span[8]
        print(f"generation of {N} at 250 ms latency: 1 worker {span[1]:.2f} s, 8 workers {span[8]:.2f} s "
              f"(run wall {wall[1]:.2f} s / {wall[8]:.2f} s): speed-up {speedup:.2f}x "
              f"({speedup / 8:.0%} of ideal 8x)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
