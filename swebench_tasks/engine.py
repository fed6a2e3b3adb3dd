"""The Docker engine service: is it up, what it holds, what it is, over its socket.

These questions sit on the path of every up-to-date `swebench run` (ping, the local tags, an
image by name) and of preflight (`info`), so they are asked with the standard library's
http.client, not the `docker` SDK, whose import costs more than the questions themselves.
Measured by `benchmarks/bench_engine.py` (fresh interpreters that already hold what an
up-to-date run imports; ping + local tags + one image + info, import included; median of 21
on 2 shared, loaded cores): this client 30 ms, the SDK 174 ms, a saving of 143 ms per
command (whole interpreter 322 ms against 504 ms; a quieter run: 25 ms against 128 ms).
Pulls stay with the SDK (images.py), which knows the user's registry logins and credential
helpers.

Where the engine is comes from DOCKER_HOST (unix or tcp, TLS per DOCKER_TLS_VERIFY and
DOCKER_CERT_PATH), as the harness's `docker.from_env()` finds it.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

from swebench_tasks.errors import EngineError, UsageError

DEFAULT_SOCKET = "/var/run/docker.sock"
# The engine's word for its machine -> the word image names use.
ARCHES = {"x86_64": "x86_64", "amd64": "x86_64", "arm64": "arm64", "aarch64": "arm64"}
START_DOCKER = (
    "start Docker (`sudo systemctl start docker`, or open Docker Desktop), or point DOCKER_HOST at a running engine"
)


@dataclass(frozen=True)
class EngineAddress:
    """Where the engine listens, as the harness's `docker.from_env()` would find it."""

    url: str  # for messages
    socket_path: str | None = None  # a unix socket, else host:port over TCP
    host: str = ""
    port: int = 0
    tls: bool = False


def engine_address() -> EngineAddress:
    """DOCKER_HOST, or the default socket; UsageError for a value that names no engine."""
    raw = os.environ.get("DOCKER_HOST", "").strip()
    if not raw:
        return EngineAddress(f"unix://{DEFAULT_SOCKET}", socket_path=DEFAULT_SOCKET)
    parts = urlsplit(raw)
    if parts.scheme == "unix" and (parts.netloc + parts.path):
        return EngineAddress(raw, socket_path=parts.netloc + parts.path)
    if parts.scheme in ("tcp", "http", "https") and parts.hostname:
        tls = parts.scheme == "https" or bool(os.environ.get("DOCKER_TLS_VERIFY"))
        try:
            port = parts.port or (2376 if tls else 2375)
        except ValueError:
            port = 0
        if port:
            return EngineAddress(raw, host=parts.hostname, port=port, tls=tls)
    raise UsageError(
        f"DOCKER_HOST={raw!r} is not an engine address this tool can use",
        fix=f"set DOCKER_HOST to unix:///path/to/docker.sock or tcp://HOST:PORT, or unset it for {DEFAULT_SOCKET}",
    )


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _connection(address: EngineAddress, timeout: float) -> http.client.HTTPConnection:
    if address.socket_path:
        return _UnixConnection(address.socket_path, timeout)
    if address.tls:
        import ssl

        certs = Path(os.environ.get("DOCKER_CERT_PATH") or Path.home() / ".docker")
        context = ssl.create_default_context(cafile=str(certs / "ca.pem") if (certs / "ca.pem").exists() else None)
        if (certs / "cert.pem").exists():
            context.load_cert_chain(certs / "cert.pem", certs / "key.pem")
        return http.client.HTTPSConnection(address.host, address.port, timeout=timeout, context=context)
    return http.client.HTTPConnection(address.host, address.port, timeout=timeout)


def _call(method: str, path: str, *, timeout: float = 10.0) -> tuple[int, bytes]:
    """One engine API request; OSError/HTTPException when the engine does not answer."""
    conn = _connection(engine_address(), timeout)
    try:
        conn.request(method, path, headers={"Host": "docker"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _image_path(image: str, suffix: str = "") -> str:
    return f"/images/{quote(image, safe='/:@')}{suffix}"


def engine_reachable() -> bool:
    """Whether the engine answers its ping; never raises (used as a doit up-to-date check)."""
    try:
        return _call("GET", "/_ping", timeout=5)[0] == 200
    except (OSError, http.client.HTTPException, UsageError):
        return False


def image_id(image: str | None) -> str | None:
    """The local image's id, or None if absent or the engine does not answer."""
    if not image:
        return None
    try:
        status, body = _call("GET", _image_path(image, "/json"))
    except (OSError, http.client.HTTPException, UsageError):
        return None
    return json.loads(body).get("Id") if status == 200 else None


def is_present(image: str | None) -> bool:
    """Whether the engine has the image (by name); the image tasks' up-to-date check."""
    return image_id(image) is not None


def local_tags() -> frozenset[str]:
    """Every `name:tag` the engine holds, in one request (empty if it does not answer): the
    image tasks of a full selection ask it once, not once per image."""
    try:
        status, body = _call("GET", "/images/json", timeout=30)
    except (OSError, http.client.HTTPException, UsageError):
        return frozenset()
    if status != 200:
        return frozenset()
    return frozenset(tag for image in json.loads(body) for tag in image.get("RepoTags") or ())


@dataclass(frozen=True)
class EngineInfo:
    """What preflight and the pulls need to know about the engine (from its `info`)."""

    address: str
    id: str
    version: str
    arch: str  # as image names spell it: x86_64, arm64 (else the engine's own word)
    os_type: str
    root_dir: str
    mirrors: tuple[str, ...]


def unreachable(address: str, exc: BaseException) -> EngineError:
    """The one error for an engine that does not answer, with the fix that applies."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
    if isinstance(exc, PermissionError):
        return EngineError(
            f"no permission to use the Docker engine at {address}",
            fix="add your user to the docker group (`sudo usermod -aG docker $USER`, then log in "
            "again), or set DOCKER_HOST",
        )
    return EngineError(f"Docker engine not reachable at {address}: {reason}", fix=START_DOCKER)


def engine_info() -> EngineInfo:
    """The engine's identity and arch; EngineError (exit 4) naming the fix if it does not answer."""
    address = engine_address()
    try:
        status, body = _call("GET", "/info")
    except (OSError, http.client.HTTPException) as exc:
        raise unreachable(address.url, exc) from None
    if status != 200:
        raise EngineError(f"the Docker engine at {address.url} answered {status} to `info`", fix=START_DOCKER)
    info = json.loads(body)
    machine = str(info.get("Architecture") or "")
    return EngineInfo(
        address=address.url,
        id=str(info.get("ID") or ""),
        version=str(info.get("ServerVersion") or ""),
        arch=ARCHES.get(machine, machine),
        os_type=str(info.get("OSType") or ""),
        root_dir=str(info.get("DockerRootDir") or ""),
        mirrors=tuple((info.get("RegistryConfig") or {}).get("Mirrors") or ()),
    )


def tag(source: str, repository: str, tag_: str) -> None:
    """`docker tag source repository:tag`."""
    try:
        status, body = _call("POST", _image_path(source, "/tag?" + urlencode({"repo": repository, "tag": tag_})))
    except (OSError, http.client.HTTPException) as exc:
        raise unreachable(engine_address().url, exc) from None
    if status not in (200, 201):
        raise EngineError(f"cannot tag {source} as {repository}:{tag_}: {_message(body)}", fix=START_DOCKER)


def remove(image: str) -> str | None:
    """`docker rmi image` (an absent one counts as removed); None once it is gone, else the
    engine's reason for keeping it (a container uses it)."""
    try:
        status, body = _call("DELETE", _image_path(image))
    except (OSError, http.client.HTTPException) as exc:
        raise unreachable(engine_address().url, exc) from None
    return None if status in (200, 404) else _message(body)


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message") or "").strip()
    except ValueError:
        return body.decode(errors="replace").strip()
