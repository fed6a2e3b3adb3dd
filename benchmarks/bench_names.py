"""What keeping names from data off the filesystem costs a run, measured (not asserted):
run `python benchmarks/bench_names.py`.

Per selection size (all of SWE-bench is 2294 rows): the path of every generation record
(safe_name per id), the dataset checks made when it is cached (check_rows) and before each
local evaluation (check_evaluable), and 1000 reads of the run id (Settings.effective_run_id,
read by many tasks). Ids are SWE-bench-shaped (kept as they are) plus 1% hostile ones (mapped).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from swebench_tasks import datasets  # noqa: E402
from swebench_tasks.config import load_settings  # noqa: E402
from swebench_tasks.generation import record_path  # noqa: E402

FIELDS = {f: "x" for f in datasets.EVALUATION_FIELDS if f != "instance_id"}


def rows(n: int) -> list[dict]:
    ids = [f"owner{i % 12}__repo{i % 12}-{10000 + i}" if i % 100 else f"../../x/{i}\n" for i in range(n)]
    return [{"instance_id": i, "problem_statement": "p", "base_commit": "0" * 40, **FIELDS} for i in ids]


def best_ms(func, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times) * 1000, statistics.median(times) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(Path(tmp), dataset="lite", model="openai/gpt-4o-mini")
        print(f"{'rows':>6} {'record paths':>14} {'check_rows':>12} {'check_evaluable':>16} {'1000 run ids':>14}  (best / median ms)")
        for n in (300, 2294, 4588):
            data = rows(n)
            safe = [r for r in data if "\n" not in r["instance_id"]]
            cells = [
                best_ms(lambda: [record_path(Path(tmp), "openai", "gpt-4o-mini", r["instance_id"]) for r in data]),
                best_ms(lambda: datasets.check_rows(data, "bench")),
                best_ms(lambda: datasets.check_evaluable(safe)),
                best_ms(lambda: [settings.effective_run_id for _ in range(1000)]),
            ]
            print(f"{n:>6} " + " ".join(f"{b:>6.2f} / {m:<6.2f}".rjust(w) for (b, m), w in zip(cells, (14, 12, 16, 14))))


if __name__ == "__main__":
    main()
