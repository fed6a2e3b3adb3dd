"""What the engine questions cost a command, measured (not asserted): the hand-written client
(`swebench_tasks.engine`, the standard library over the engine's socket) against the `docker`
SDK doing the same four calls.

The four calls are what an up-to-date `swebench run` and `swebench preflight` ask the engine:
its ping (retrieval's up-to-date check), the local tags (the image tasks, once per run), one
image by name (an image task's up-to-date check) and its `info` (preflight). Each round is a
fresh interpreter that has already imported what an up-to-date run imports anyway (doit,
click, rich, the CLI, the task graph), so the time reported is the client's import plus its
four calls; the whole interpreter's wall time is shown too.

    python benchmarks/bench_engine.py [ROUNDS]

The engine is DOCKER_HOST's (or the default socket's); when none answers and we are root, a
private dockerd is started for the run (as the test suite's `docker_engine` fixture does) and
stopped after. A tiny image with a few tags is imported for the calls and removed after.
"""

from __future__ import annotations

import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docker  # noqa: E402

REPOSITORY = "swebench-bench/engine"
TAGS = [f"t{n}" for n in range(20)]
IMAGE = f"{REPOSITORY}:{TAGS[0]}"
RUN_PATH = "import doit.doit_cmd, click, rich.progress, swebench_tasks.cli, swebench_tasks.tasks"

OURS = f"""
import time
{RUN_PATH}
start = time.perf_counter()
from swebench_tasks import engine
assert engine.engine_reachable()
assert {IMAGE!r} in engine.local_tags()
assert engine.is_present({IMAGE!r})
assert engine.engine_info().id
print(time.perf_counter() - start)
"""

SDK = f"""
import time
{RUN_PATH}
start = time.perf_counter()
import docker
client = docker.from_env()
try:
    assert client.ping()
    assert {IMAGE!r} in {{t for image in client.api.images() for t in image.get("RepoTags") or ()}}
    try:
        client.api.inspect_image({IMAGE!r})
    except docker.errors.ImageNotFound:
        raise AssertionError("absent")
    assert client.info()["ID"]
finally:
    client.close()
print(time.perf_counter() - start)
"""


def rounds_of(codes: list[str], rounds: int, env: dict[str, str]) -> list[tuple[float, float]]:
    """(median in-child seconds, median interpreter wall seconds) per code, interleaved so that
    load on the machine drifts evenly over both."""
    inner: list[list[float]] = [[] for _ in codes]
    wall: list[list[float]] = [[] for _ in codes]
    for _ in range(rounds + 1):  # the first round warms the bytecode caches and is dropped
        for i, code in enumerate(codes):
            started = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            wall[i].append(time.perf_counter() - started)
            inner[i].append(float(out.stdout.strip().splitlines()[-1]))
    return [(statistics.median(t[1:]), statistics.median(w[1:])) for t, w in zip(inner, wall, strict=True)]


def _answers(host: str | None) -> bool:
    try:
        client = docker.DockerClient(base_url=host, timeout=5) if host else docker.from_env(timeout=5)
        return bool(client.ping())
    except docker.errors.DockerException:
        return False


def _own_engine() -> tuple[str, object, Path]:
    """A private dockerd (root only), as the suite's fixture starts one."""
    from tests.support.engine import Registry, _short_tmp, _start_dockerd

    root = Path(tempfile.mkdtemp(prefix="swe-", dir=_short_tmp()))
    process, _ = _start_dockerd(root, Registry())
    return f"unix://{root / 'd.sock'}", process, root


def _empty_image(client: docker.DockerClient) -> None:
    """A one-file image under TAGS (no registry needed)."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        info = tarfile.TarInfo("bench")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"x\n"))
    client.api.import_image_from_data(data.getvalue(), repository=REPOSITORY, tag=TAGS[0])
    for tag in TAGS[1:]:
        client.api.tag(IMAGE, REPOSITORY, tag)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # users cache bytecode
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    process = root = None
    if not _answers(env.get("DOCKER_HOST")):
        if os.geteuid() != 0:
            sys.exit("no Docker engine answers: set DOCKER_HOST (or run as root to start a private one)")
        env["DOCKER_HOST"], process, root = _own_engine()
    client = docker.DockerClient(base_url=env.get("DOCKER_HOST") or None, timeout=60)
    try:
        _empty_image(client)
        (ours, ours_wall), (sdk, sdk_wall) = rounds_of([OURS, SDK], rounds, env)
    finally:
        for tag in TAGS:
            client.api.remove_image(f"{REPOSITORY}:{tag}", force=True)
        client.close()
        if process is not None and root is not None:
            from tests.support.engine import _stop, _unmount_under

            _stop(process.pid, grace=30)  # type: ignore[attr-defined]
            _unmount_under(root)
            shutil.rmtree(root, ignore_errors=True)
    print(f"engine {env.get('DOCKER_HOST') or 'default socket'}, median of {rounds} fresh interpreters")
    print("ping + local tags + is_present + info, import included (whole interpreter in brackets):")
    print(f"  hand-written client: {ours * 1000:6.1f} ms  ({ours_wall * 1000:.0f} ms)")
    print(f"  docker SDK:          {sdk * 1000:6.1f} ms  ({sdk_wall * 1000:.0f} ms)")
    print(f"  saving:              {(sdk - ours) * 1000:6.1f} ms  ({(sdk_wall - ours_wall) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
