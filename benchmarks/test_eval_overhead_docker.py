"""What the product adds to an evaluation: `swebench run --model gold --no-preflight` in a fresh
working directory against the harness alone (`python -m swebench.harness.run_evaluation -p gold`)
on the same two instances, real engine, images already local. Prints, asserts nothing:

    python -m pytest benchmarks/test_eval_overhead_docker.py -s -q

`BENCH_SRC=DIR` runs another checkout of the product (before/after numbers). The first product
run also shows the cost with an empty user cache (the harness's flags not yet known).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

RUNS = 5


def timed(cmd: list[str], cwd: Path, env: dict) -> float:
    cwd.mkdir(parents=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=900)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    return elapsed


@pytest.mark.docker
def test_product_overhead_on_an_evaluation(workspace, instance_dataset, docker_engine, tmp_path):
    ids = instance_dataset.hub_ids[:2]
    data = instance_dataset.write(Path("two.jsonl").resolve(), ids)
    for iid in ids:
        docker_engine.docker("pull", instance_dataset.row(iid)["image"])
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "user-cache")}
    if os.environ.get("BENCH_SRC"):
        env["PYTHONPATH"] = os.environ["BENCH_SRC"]
    harness = [sys.executable, "-m", "swebench.harness.run_evaluation", "-d", str(data), "-s", "test",
               "-p", "gold", "-i", *ids, "--max_workers", "2", "--run_id", "bench", "--report_dir", "."]
    product = [sys.executable, "-m", "swebench_tasks", "run", "--no-input", "--json", "--no-preflight",
               "--model", "gold", "-d", str(data), "--max-workers", "2"]
    try:
        timed(harness, Path("warm-up"), env)  # page cache, image layers
        cold = timed(product, Path("product-cold"), env)
        alone, ours = [], []
        for n in range(RUNS):
            alone.append(timed(harness, Path(f"harness-{n}"), env))
            ours.append(timed(product, Path(f"product-{n}"), env))
    finally:
        docker_engine.remove_images(*(instance_dataset.row(i)["image"] for i in ids))
    med = statistics.median
    print(f"\nevaluation of {len(ids)} instances in a fresh working directory ({RUNS} runs each, alternating;"
          f" min / median):\n"
          f"  harness alone      {min(alone):6.2f} / {med(alone):6.2f} s\n"
          f"  swebench run       {min(ours):6.2f} / {med(ours):6.2f} s   overhead {min(ours) - min(alone):+.2f} / "
          f"{med(ours) - med(alone):+.2f} s\n"
          f"  swebench run, empty user cache (first ever): {cold:.2f} s")
