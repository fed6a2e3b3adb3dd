"""A second loopback registry that demands a login (htpasswd), standing in for a fallback
registry that answers 401 (e.g. ghcr.io without `docker login`).

Fixture `auth_registry` (session): `docker-registry` on a free 127.0.0.1 port with one user,
holding the fallback-only instance's image under `<address>/epoch/...`. dockerd treats any
127.0.0.0/8 registry as insecure, so no TLS is needed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.engine import DockerEngine, InstanceDataset, fallback_image

USER, PASSWORD = "acme", "s3cret-pass"


@dataclass(frozen=True)
class AuthRegistry:
    address: str  # 127.0.0.1:PORT
    user: str
    password: str

    @property
    def namespace(self) -> str:
        return f"{self.address}/epoch"

    def login(self, docker_config: Path) -> subprocess.CompletedProcess[str]:
        """`docker login` into a private DOCKER_CONFIG (never the developer's)."""
        env = {**os.environ, "DOCKER_CONFIG": str(docker_config)}
        return subprocess.run(["docker", "login", self.address, "-u", self.user, "--password-stdin"],
                              input=self.password, env=env, capture_output=True, text=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(address: str) -> bool:
    """The registry is up: /v2/ answers (401 without credentials)."""
    try:
        urllib.request.urlopen(f"http://{address}/v2/", timeout=2)
    except urllib.error.HTTPError as error:
        return error.code == 401
    except OSError:
        return False
    return False


def _bcrypt(password: str) -> str:
    """docker-registry's htpasswd takes bcrypt only; libcrypt makes it without extra packages."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))


@pytest.fixture(scope="session")
def auth_registry(docker_engine: DockerEngine, instance_dataset: InstanceDataset) -> Iterator[AuthRegistry]:
    root = Path(tempfile.mkdtemp(prefix="swebench-authreg-"))
    address = f"127.0.0.1:{_free_port()}"
    (root / "htpasswd").write_text(f"{USER}:{_bcrypt(PASSWORD)}\n")
    (root / "config.yml").write_text(
        "version: 0.1\nlog:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: {address}\n"
        f"auth:\n  htpasswd:\n    realm: test\n    path: {root / 'htpasswd'}\n"
    )
    with (root / "registry.log").open("w") as log:
        process = subprocess.Popen(["docker-registry", "serve", str(root / "config.yml")],
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not _answers(address):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"auth registry did not start: {(root / 'registry.log').read_text()[-2000:]}")
            time.sleep(0.1)
        registry = AuthRegistry(address, USER, PASSWORD)
        _seed(docker_engine, instance_dataset, registry)
        yield registry
    finally:
        process.terminate()
        process.wait()
        subprocess.run(["rm", "-rf", str(root)], check=False)


def _seed(engine: DockerEngine, dataset: InstanceDataset, registry: AuthRegistry) -> None:
    """Copy the fallback-only image into the auth registry; leave nothing in the engine."""
    client = engine.client()
    auth = {"username": registry.user, "password": registry.password}
    for iid in dataset.fallback_ids:
        source = dataset.fallback_images[iid]
        target = fallback_image(iid, engine.arch, registry.namespace)
        client.images.pull(source)
        client.images.get(source).tag(target)
        repository, tag = target.rsplit(":", 1)
        for line in client.api.push(repository, tag=tag, stream=True, decode=True, auth_config=auth):
            if "error" in line:
                raise RuntimeError(f"pushing {target} failed: {line['error']}")
        engine.remove_images(source, target)
