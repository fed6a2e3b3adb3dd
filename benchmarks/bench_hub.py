"""`-d lite` against the loopback Hub, measured (not asserted): run `python benchmarks/bench_hub.py`.

Each case is `swebench run --no-input --model gold --generate-only --count 1 -d lite` in a
fresh working directory (median of RUNS):
1. first fetch: through `datasets.load_dataset` into an empty Hugging Face cache;
2. cached: a second run in the same directory (reads .swebench/, never imports `datasets`);
3. offline, `datasets` cache: a fresh directory with HF_HUB_OFFLINE=1;
4. Hub refused (HF_ENDPOINT at a closed port), no cache: the one-line failure;
5. Hub refused, `datasets` cache present: served from that cache;
6. Hub that accepts and never answers (HF_HUB_ETAG_TIMEOUT=2), no cache.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.hfhub import LITE, HfHubServer, SilentHost, closed_port, lite_rows  # noqa: E402

RUNS = 3
CMD = [sys.executable, "-m", "swebench_tasks", "run", "--no-input", "--model", "gold", "--generate-only",
       "--count", "1", "-d", "lite"]


def once(cwd: Path, env: dict[str, str]) -> tuple[float, int]:
    start = time.perf_counter()
    code = subprocess.run(CMD, cwd=cwd, env=env, capture_output=True, stdin=subprocess.DEVNULL).returncode
    return time.perf_counter() - start, code


def case(name: str, prepare) -> None:
    """`prepare()` returns a working directory and environment for each sample."""
    samples, codes = [], set()
    for _ in range(RUNS):
        seconds, code = once(*prepare())
        samples.append(seconds)
        codes.add(code)
    print(f"{name:<46} {statistics.median(samples):6.2f} s  (exit {', '.join(map(str, sorted(codes)))})")


def main() -> None:
    hub = HfHubServer().start()
    hub.publish(LITE, {"test": lite_rows()})
    silent = SilentHost(drop=False)
    tmp = Path(tempfile.mkdtemp(prefix="bench-hub-"))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "SWEBENCH_"))}
    base |= {"PYTHONPATH": str(ROOT), "SWEBENCH_CONFIG_DIR": str(tmp / "config")}
    online = base | {"HF_ENDPOINT": hub.root, "HF_HOME": str(tmp / "hf-warm")}
    refused = f"http://127.0.0.1:{closed_port()}"
    counter = iter(range(10**6))

    def fresh() -> Path:
        path = tmp / f"w{next(counter)}"
        path.mkdir()
        return path

    def fetched() -> Path:
        path = fresh()
        once(path, online)
        return path

    try:
        case("first fetch (load_dataset, empty HF cache)",
             lambda: (fresh(), online | {"HF_HOME": str(fresh())}))
        case("cached in .swebench/ (second run)", lambda: (fetched(), online))
        case("HF_HUB_OFFLINE=1, datasets cache", lambda: (fresh(), online | {"HF_HUB_OFFLINE": "1"}))
        case("Hub refused, no cache (one-line exit 2)",
             lambda: (fresh(), base | {"HF_ENDPOINT": refused, "HF_HOME": str(fresh())}))
        case("Hub refused, datasets cache", lambda: (fresh(), online | {"HF_ENDPOINT": refused}))
        case("Hub silent, HF_HUB_ETAG_TIMEOUT=2, no cache",
             lambda: (fresh(), base | {"HF_ENDPOINT": silent.root, "HF_HUB_ETAG_TIMEOUT": "2",
                                       "HF_HOME": str(fresh())}))
    finally:
        hub.stop()
        silent.stop()


if __name__ == "__main__":
    main()
