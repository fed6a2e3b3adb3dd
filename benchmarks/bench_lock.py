"""What the working-directory lock costs a command, measured (not asserted):

1. `import filelock` in a fresh interpreter that has already imported what an up-to-date
   `swebench run` imports anyway (doit, click, rich, the task graph), against one that has not;
2. one `files.hold()` (acquire, pid write, release) in a warm process.

    python benchmarks/bench_lock.py [ROUNDS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from swebench_tasks import files  # noqa: E402
from swebench_tasks.config import Paths  # noqa: E402


def interpreters(codes: list[str], rounds: int) -> list[float]:
    """Median wall time of `python -c CODE` for each code, interleaved so that load drifts evenly."""
    times: list[list[float]] = [[] for _ in codes]
    for _ in range(rounds):
        for i, code in enumerate(codes):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            times[i].append(time.perf_counter() - started)
    return [statistics.median(t) for t in times]


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    run_path = "import doit.doit_cmd, click, rich.progress, swebench_tasks.cli, swebench_tasks.stages.graph"
    bare, with_import = interpreters([run_path, f"{run_path}; import filelock"], rounds)
    print(f"run-path imports: {bare * 1000:.0f} ms; with `import filelock`: {with_import * 1000:.0f} ms "
          f"(+{(with_import - bare) * 1000:.0f} ms)")
    with tempfile.TemporaryDirectory() as tmp:
        paths = Paths(Path(tmp))
        with files.hold(paths):  # warm: the import and the directory are paid for once
            pass
        times = []
        for _ in range(rounds * 20):
            started = time.perf_counter()
            with files.hold(paths):
                pass
            times.append(time.perf_counter() - started)
    print(f"files.hold() acquire + pid + release, warm: {statistics.median(times) * 1e6:.0f} µs "
          f"(median of {len(times)})")


if __name__ == "__main__":
    main()
