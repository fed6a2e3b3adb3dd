"""An up-to-date full `swebench run` (preflight, images, evaluation all cached; the harness is
not started) against plain doit on an up-to-date graph of the same size. Prints, asserts nothing:

    python -m pytest benchmarks/test_uptodate_docker.py -s -q
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.bench_cli import DOIT, PLAIN_DODO, SWEBENCH, timeit
from tests.test_run import swebench


@pytest.mark.docker
def test_uptodate_full_run(workspace, instance_dataset, docker_engine):
    data = instance_dataset.write(Path("hub.jsonl"), instance_dataset.hub_ids)
    args = ["run", "--no-input", "--json", "--model", "gold", "-d", str(data)]
    first = swebench(*args, timeout=900)
    assert first.returncode == 0, first.stderr
    env = dict(os.environ)
    ours = timeit([*SWEBENCH, *args], Path.cwd(), env)
    plain = Path("plain")
    plain.mkdir()
    (plain / "dodo.py").write_text(PLAIN_DODO % len(instance_dataset.hub_ids))
    subprocess.run(DOIT, cwd=plain, capture_output=True, check=True)
    base = timeit(DOIT, plain, env)
    print(f"\nup-to-date full run ({len(instance_dataset.hub_ids)} instances, preflight + images + evaluate): "
          f"{ours[0] * 1000:.0f} ±{ours[1] * 1000:.0f} ms; plain doit: {base[0] * 1000:.0f} ±{base[1] * 1000:.0f} ms;"
          f" ratio {ours[0] / base[0]:.2f}x")
    docker_engine.remove_images(*(instance_dataset.row(i)["image"] for i in instance_dataset.hub_ids))
