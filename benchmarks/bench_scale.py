"""Full-size selections: an up-to-date `swebench run` against plain doit, with peak memory.

    python benchmarks/bench_scale.py [--sizes 300 2294 4588] [--runs 5] [--src DIR]

For each size N: a JSONL dataset of N rows over twelve repositories (SWE-bench's shape), a
first `--generate-only` run against the loopback OpenAI-protocol server, then the same run
again (every task up to date) timed against plain doit on an up-to-date graph of N generate
tasks (benchmarks/bench_cli.py's PLAIN_DODO). The two are run alternately; each row gives the
median wall time and the median CPU time (user + system: steadier on a shared machine), and the
ratios of both. Peak RSS is the child's own (wait4). `--src` runs another checkout of the product
(e.g. the base commit, for before/after numbers). Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
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
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    peak_rss_mib: float = 0.0
    stderr_lines: int = 0

    def add(self, wall: float, cpu: float, rss_kib: int, lines: int) -> None:
        self.wall.append(wall)
        self.cpu.append(cpu)
        self.peak_rss_mib = max(self.peak_rss_mib, rss_kib / 1024)
        self.stderr_lines = lines


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


def measure(cmd: list[str], cwd: Path, env: dict, sample: Sample | None) -> None:
    """One run: wall and CPU time, peak RSS, stderr's line count (None: a warm-up, not kept)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        err.seek(0)
        text = err.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{text[-2000:]}")
    if sample is not None:
        sample.add(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, len(text.splitlines()))


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
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as users run it: compiled once, not at every start
    table = []
    scratch = Path(tempfile.mkdtemp(prefix="swebench-scale-"))
    try:
        for n in args.sizes:
            work = scratch / f"run-{n}"
            work.mkdir()
            write_dataset(work / "data.jsonl", n)
            subprocess.run(run_args(), cwd=work, env=env, capture_output=True, check=True)
            plain = scratch / f"doit-{n}"
            plain.mkdir()
            (plain / "dodo.py").write_text(PLAIN_DODO % n)
            subprocess.run(DOIT, cwd=plain, env=env, capture_output=True, check=True)
            ours, base = Sample(), Sample()
            for k in range(args.runs + 1):  # alternately, so both see the same load; the first warms up
                measure(run_args(), work, env, ours if k else None)
                measure(DOIT, plain, env, base if k else None)
            table.append((n, ours, base))
            print(f"... {n} rows done", file=sys.stderr)
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    med = statistics.median
    print(f"product: {args.src.resolve()}; {args.runs} runs each, medians; times in ms")
    print(f"{'rows':>6} | {'run wall':>8} {'doit wall':>9} {'ratio':>6} | {'run cpu':>8} {'doit cpu':>8} "
          f"{'ratio':>6} | {'RSS run':>8} {'RSS doit':>8} | {'stderr lines':>12}")
    for n, ours, base in table:
        print(f"{n:>6} | {med(ours.wall) * 1000:8.0f} {med(base.wall) * 1000:9.0f} "
              f"{med(ours.wall) / med(base.wall):5.2f}x | {med(ours.cpu) * 1000:8.0f} {med(base.cpu) * 1000:8.0f} "
              f"{med(ours.cpu) / med(base.cpu):5.2f}x | {ours.peak_rss_mib:4.0f} MiB {base.peak_rss_mib:4.0f} MiB | "
              f"{ours.stderr_lines:>12}")


if __name__ == "__main__":
    main()
