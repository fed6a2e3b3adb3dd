"""The Docker engine client: DOCKER_HOST forms and an engine that does not answer (unit), then
every call against the real engine (docker)."""

from __future__ import annotations

import io
import socket
import tarfile
from pathlib import Path

import docker
import pytest

from swebench_tasks import engine
from swebench_tasks.errors import EngineError, UsageError
from tests.support.engine import DockerEngine


@pytest.mark.parametrize("value", ["not-an-address", "unix://", "tcp://", "tcp://host:notaport", "ssh://me@host"])
def test_unusable_docker_host_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("DOCKER_HOST", value)
    with pytest.raises(UsageError, match="DOCKER_HOST") as err:
        engine.engine_info()
    assert err.value.exit_code == 2
    assert not engine.engine_reachable() and not engine.is_present("x")


def test_docker_host_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert engine.engine_address().socket_path == "/var/run/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.2:2375")
    address = engine.engine_address()
    assert (address.host, address.port, address.socket_path) == ("10.0.0.2", 2375, None)


def test_stopped_engine_says_start_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A socket left behind by a stopped daemon (nothing listens), and no socket at all."""
    dead = tmp_path / "dead.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(dead))
        for path in (dead, tmp_path / "missing.sock"):
            monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
            assert not engine.engine_reachable()
            with pytest.raises(EngineError, match="not reachable") as err:
                engine.engine_info()
            assert err.value.exit_code == 4 and "start Docker" in err.value.line()


def _tiny_image(client: docker.DockerClient, repository: str, tag: str) -> str:
    """A one-file image imported straight into the engine (no registry); its id."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        member = tarfile.TarInfo("hello")
        member.size = 3
        tar.addfile(member, io.BytesIO(b"hi\n"))
    client.api.import_image_from_data(data.getvalue(), repository=repository, tag=tag)
    return client.api.inspect_image(f"{repository}:{tag}")["Id"]


@pytest.mark.docker
def test_every_call_against_the_real_engine(docker_engine: DockerEngine) -> None:
    client = docker_engine.client()
    name, other = "swebench-test/engine:one", "swebench-test/engine:two"
    container = None
    try:
        image = _tiny_image(client, "swebench-test/engine", "one")
        assert engine.engine_reachable()
        info = engine.engine_info()
        assert info.address == docker_engine.host and info.id == client.info()["ID"]
        assert info.arch == docker_engine.arch and info.os_type == "linux"
        assert engine.is_present(name) and engine.image_id(name) == image
        assert not engine.is_present(other) and engine.image_id(other) is None

        engine.tag(name, "swebench-test/engine", "two")
        assert engine.image_id(other) == image and {name, other} <= engine.local_tags()
        with pytest.raises(EngineError, match="cannot tag swebench-test/absent:x"):
            engine.tag("swebench-test/absent:x", "swebench-test/engine", "three")

        assert engine.remove(other) is None and not engine.is_present(other)
        assert engine.remove(other) is None  # already gone is fine
        container = client.api.create_container(name, command=["/hello"])["Id"]
        kept = engine.remove(name)  # its last name, and a container uses it
        assert kept and "container" in kept and engine.is_present(name)
    finally:
        if container:
            client.api.remove_container(container, force=True)
        docker_engine.remove_images(name, other)
