"""Full-size selections: an up-to-date `swebench run` against plain doit, with peak memory.

    python benchmarks/bench_scale.py [--sizes 300 2294 4588] [--runs 5] [--src DIR]

For each size N: a JSONL dataset of N rows over twelve repositories (SWE-bench's shape), a
first `--generate-only` run against the loopback OpenAI-protocol server, then the same run
again (every task up to date) timed against plain doit on an up-to-date graph of N generate
tasks (benchmarks/bench_cli.py's PLAIN_DODO). Peak RSS is the child's own (wait4). `--src`
runs another checkout of the product (e.g. the base commit, for before/after numbers).
Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_cli import DIFF, DOIT, PLAIN_DODO, SWEBENCH  # noqa: E402
from tests.support.providers import KEYS, OpenAIServer  # noqa: E402

REPOS = ("astropy/astropy", "django/django", "matplotlib/matplotlib", "mwaskom/seaborn",
         "pallets/flask", "psf/requests", "pydata/xarray", "pylint-dev/pylint", "pytest-dev/pytest",
         "scikit-learn/scikit-learn", "sphinx-doc/sphinx", "sympy/sympy")


@dataclass
class Sample:
    seconds: list[float]
    peak_rss_mib: float
    stderr_lines: int

    @property
    def mean(self) -> float:
        return statistics.mean(self.seconds)

    @property
    def stdev(self) -> float:
        return statistics.stdev(self.seconds) if len(self.seconds) > 1 else 0.0


def write_dataset(path: Path, n: int) -> None:
    rows = []
    for i in range(n):
        repo = REPOS[i % len(REPOS)]
        rows.append({"instance_id": f"{repo.replace('/', '__')}-{10000 + i}", "repo": repo,
                     "base_commit": f"{i:040x}", "problem_statement": f"add() subtracts ({i})",
                     "patch": "", "image": f"swebench/sweb.eval.x86_64.{i}:latest"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def run_args() -> list[str]:
    return [*SWEBENCH, "run", "--no-input", "--json", "--provider", "openai", "--model", "gpt-4o-mini",
            "--context", "statement", "--generate-only", "-d", "data.jsonl", "--max-workers", "8"]


def measure(cmd: list[str], cwd: Path, env: dict, runs: int) -> Sample:
    """Wall time of `runs` runs (after one warm-up), the largest peak RSS, stderr's line count."""
    seconds, peak, lines = [], 0, 0
    for n in range(runs + 1):
        with tempfile.TemporaryFile() as err:
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            err.seek(0)
            text = err.read().decode(errors="replace")
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{text[-2000:]}")
        if n:  # the first run warms the page cache
            seconds.append(elapsed)
            peak = max(peak, usage.ru_maxrss)  # KiB on Linux
            lines = len(text.splitlines())
    return Sample(seconds, peak / 1024, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 2294, 4588])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--src", type=Path, default=ROOT, help="checkout of the product to run")
    args = parser.parse_args()

    server = OpenAIServer().start()
    server.on_chat = lambda body: DIFF
    env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": KEYS["openai"],
           "SWEBENCH_CONFIG_DIR": tempfile.mkdtemp(), "PYTHONPATH": str(args.src.resolve())}
    table = []
    try:
        for n in args.sizes:
            work = Path(tempfile.mkdtemp(prefix=f"swebench-scale-{n}-"))
            write_dataset(work / "data.jsonl", n)
            subprocess.run(run_args(), cwd=work, env=env, capture_output=True, check=True)
            plain = Path(tempfile.mkdtemp(prefix=f"doit-scale-{n}-"))
            (plain / "dodo.py").write_text(PLAIN_DODO % n)
            subprocess.run(DOIT, cwd=plain, env=env, capture_output=True, check=True)
            ours = measure(run_args(), work, env, args.runs)
            base = measure(DOIT, plain, env, args.runs)
            table.append((n, ours, base))
            print(f"... {n} rows done", file=sys.stderr)
    finally:
        server.stop()

    print(f"product: {args.src.resolve()}; {args.runs} runs each (mean ± stdev)")
    print(f"{'rows':>6} {'swebench run':>16} {'plain doit':>16} {'ratio':>6} {'RSS run':>9} {'RSS doit':>9}"
          f" {'stderr lines':>12}")
    for n, ours, base in table:
        print(f"{n:>6} {ours.mean * 1000:8.0f} ±{ours.stdev * 1000:4.0f} ms {base.mean * 1000:8.0f} "
              f"±{base.stdev * 1000:4.0f} ms {ours.mean / base.mean:5.2f}x {ours.peak_rss_mib:5.0f} MiB "
              f"{base.peak_rss_mib:5.0f} MiB {ours.stderr_lines:>12}")


if __name__ == "__main__":
    main()
