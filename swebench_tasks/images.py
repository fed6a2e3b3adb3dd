"""Instance images: present locally, else pulled with registry fix-ups (docs/troubleshooting.md), and recorded.

Engine questions (is it up, is an image present, what arch) are engine.py's. Pulls use the
`docker` SDK, which knows the user's registry logins and credential helpers.

Images this tool pulled or tagged are recorded in `.swebench/images.json` (name, image id,
instance). A label cannot mark them: labels are part of the image config, so adding one
makes a new image with another id, and the harness wants the pulled image under its name.
`swebench clean --images` removes a recorded name only while it still has the recorded id.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from swebench_tasks import engine
from swebench_tasks.engine import ARCHES, START_DOCKER, EngineInfo
from swebench_tasks.errors import EngineError, UsageError
from swebench_tasks.files import write_atomic

if TYPE_CHECKING:
    from swebench_tasks.config import Paths, Settings
    from swebench_tasks.ui import RunProgress, Ui


class Run(Protocol):
    """What a pull needs of the run: settings, where to record it, progress, and the front's
    answers (a `docker login`, emulation) through the Ui's callbacks."""

    @property
    def settings(self) -> Settings: ...
    @property
    def paths(self) -> Paths: ...
    @property
    def progress(self) -> RunProgress: ...
    @property
    def ui(self) -> Ui: ...


DEFAULT_FALLBACK_NAMESPACE = "ghcr.io/epoch-research"
AMD64 = "linux/amd64"
FREE_DISK = "free disk space for Docker (`docker system prune`, or remove unused images), then retry"

# Docker's reference grammar (distribution/reference): an optional registry, then path components.
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
NAMESPACE_RE = re.compile(rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*$")


# -- names ----------------------------------------------------------------------------------------


def split_tag(name: str) -> tuple[str, str, str]:
    """(repository, ':', tag) of a name; the tag defaults to latest (a registry port is no tag)."""
    repo, sep, tag_ = name.rpartition(":")
    if not sep or "/" in tag_:
        return name, ":", "latest"
    return repo, sep, tag_


def registry_host(name: str) -> str:
    """The registry a name is pulled from: its first component if that is a host, else docker.io."""
    first, _, rest = name.partition("/")
    return first if rest and ("." in first or ":" in first or first == "localhost") else "docker.io"


def expected_image(row: dict) -> str:
    """The image the harness (5.x) will use: the row's `image` column."""
    image = row.get("image")
    if not image:
        raise UsageError(
            f"dataset row {row.get('instance_id')} has no `image` column",
            fix="use a dataset in the swebench 5.x row schema (image, eval_script, log_parser)",
        )
    return str(image)


def fallback_namespace(settings: Settings) -> str:
    """SWEBENCH_DOCKER_NAMESPACE, else SWEBENCH_FALLBACK_NAMESPACE, else Epoch AI's; validated."""
    from swebench_tasks.config import lookup, read_dotenv

    namespace = (
        settings.docker_namespace
        or lookup("SWEBENCH_FALLBACK_NAMESPACE", read_dotenv(settings.paths.env_file))
        or DEFAULT_FALLBACK_NAMESPACE
    ).strip()
    if not NAMESPACE_RE.match(namespace):
        var = "SWEBENCH_DOCKER_NAMESPACE" if settings.docker_namespace else "SWEBENCH_FALLBACK_NAMESPACE"
        raise UsageError(
            f"{var}={namespace!r} is not an image namespace",
            fix=f"set {var} to REGISTRY/NAMESPACE in lower case, e.g. {DEFAULT_FALLBACK_NAMESPACE}",
        )
    return namespace


def effective_arch(settings: Settings, info: EngineInfo) -> str:
    """SWEBENCH_ARCH if set, else the engine's arch; x86_64 or arm64."""
    raw = settings.arch or info.arch
    arch = ARCHES.get(raw.strip().lower())
    if arch is None:
        where = "SWEBENCH_ARCH" if settings.arch else f"the engine's arch ({info.arch})"
        raise UsageError(f"{where} {raw!r} has no SWE-bench images", fix="set SWEBENCH_ARCH to x86_64 or arm64")
    return arch


def fallback_name(namespace: str, arch: str, instance_id: str) -> str:
    """Epoch AI's naming: `<ns>/swe-bench.eval.<arch>.<instance_id>:latest` (the id keeps `__`)."""
    return f"{namespace}/swe-bench.eval.{arch}.{instance_id.lower()}:latest"


# -- the record of what this tool pulled ---------------------------------------------------------

_RECORD_LOCK = threading.Lock()


def record_file(paths: Paths) -> Path:
    return paths.state / "images.json"


def recorded(paths: Paths) -> dict[str, dict]:
    """name -> {id, instance_id, how} for every image this tool pulled or tagged."""
    try:
        return dict(json.loads(record_file(paths).read_text()).get("images") or {})
    except (OSError, ValueError, AttributeError):
        return {}


def _update_record(paths: Paths, change: Callable[[dict[str, dict]], None]) -> None:
    with _RECORD_LOCK:
        images = recorded(paths)
        change(images)
        write_atomic(record_file(paths), json.dumps({"images": images}, indent=1, sort_keys=True) + "\n")


def remember(paths: Paths, names: list[str], instance_id: str, how: str) -> None:
    """Record names as this tool's (with their current image id)."""
    entries = {name: {"id": engine.image_id(name), "instance_id": instance_id, "how": how} for name in names}
    _update_record(paths, lambda images: images.update(entries))


def remove_pulled(paths: Paths, *, dry_run: bool = False) -> list[str]:
    """Untag the images this tool pulled or tagged, and nothing else; returns the names removed.

    A name whose image changed since (re-pulled or rebuilt by someone else) is not ours any
    more and is only forgotten; one a container still uses is kept and named on stderr.
    """
    removed: list[str] = []
    forget: list[str] = []
    for name, entry in sorted(recorded(paths).items()):
        current = engine.image_id(name)
        if current is None and not engine.engine_reachable():
            raise engine.unreachable(engine.engine_address().url, ConnectionError("no answer"))
        if current is None or current != entry.get("id"):
            forget.append(name)
            continue
        if dry_run:
            removed.append(name)
            continue
        kept = engine.remove(name)
        if kept is None:
            removed.append(name)
            forget.append(name)
        else:
            sys.stderr.write(f"swebench: kept {name}: {kept} (fix: remove the containers using it)\n")
    if not dry_run and forget:

        def drop(images: dict[str, dict]) -> None:
            for name in forget:
                images.pop(name, None)

        _update_record(paths, drop)
    return removed


# -- pulling ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageResult:
    """How an instance's image came to be present."""

    instance_id: str
    image: str  # the name the harness uses
    how: str  # "present", "pulled" or "fallback"
    source: str  # the name actually pulled (== image unless a fallback)
    id: str | None


class PullError(Exception):
    """A failed pull, classified: denied, auth, missing, rate-limited, unreachable, engine, disk, other."""

    def __init__(self, image: str, kind: str, message: str):
        super().__init__(f"{image}: {message}")
        self.image, self.kind, self.message = image, kind, message.strip()

    @property
    def reason(self) -> str:
        return {
            "denied": "access denied",
            "auth": "login required",
            "missing": "not found",
            "rate-limited": "rate-limited",
            "unreachable": "registry unreachable",
        }.get(self.kind, self.message)


# Retrying elsewhere cannot fix these: report them.
FATAL = ("engine", "disk")
# The expected name failing like this sends the pull to the fallback namespace (SWEBENCH_DOCKER_NAMESPACE).
FALLBACK_KINDS = ("denied", "auth", "missing", "rate-limited", "unreachable")


def classify(message: str, status: int | None = None) -> str:
    """What kind of pull failure an engine or registry message describes."""
    text = message.lower()
    if "no space left" in text or "disk quota" in text:
        return "disk"
    if status == 429 or "toomanyrequests" in text or "rate limit" in text:
        return "rate-limited"
    if status == 401 or any(s in text for s in ("unauthorized", "authentication required", "no basic auth")):
        return "auth"
    if status == 403 or "denied" in text or "forbidden" in text:
        return "denied"
    if status == 404 or any(
        s in text for s in ("not found", "manifest unknown", "does not exist", "no matching manifest", "name unknown")
    ):
        return "missing"
    if (status or 0) >= 500 or any(
        s in text
        for s in (
            "no such host",
            "connection refused",
            "timeout",
            "timed out",
            "network is unreachable",
            "tls",
            "eof",
            "connection reset",
            "server misbehaving",
            "temporary failure",
        )
    ):
        return "unreachable"
    return "other"


def _pull(name: str, platform: str | None, on_event: Callable[[dict], None]) -> None:
    """Pull one name through the SDK (it sends the user's registry login); PullError on failure."""
    import docker
    import requests

    try:
        client = docker.from_env()
        try:
            for event in client.api.pull(name, stream=True, decode=True, platform=platform):
                if event.get("error"):
                    raise PullError(name, classify(event["error"]), event["error"])
                on_event(event)
        finally:
            client.close()
    except docker.errors.APIError as exc:
        message = str(exc.explanation or exc)
        raise PullError(name, classify(message, exc.status_code), message) from None
    except (docker.errors.DockerException, requests.exceptions.ConnectionError) as exc:
        raise PullError(name, "engine", str(exc)) from None
    if not engine.is_present(name):
        raise PullError(name, "engine", "the engine ended the pull before the image was complete")


@dataclass
class _Session:
    """Decisions taken once per run (a login offer, emulation) and locks shared by its threads."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    image_locks: dict[str, threading.Lock] = field(default_factory=dict)
    logins: dict[str, bool] = field(default_factory=dict)  # registry -> whether a login succeeded
    emulation_refused: bool = False
    platform: str | None = None  # AMD64 once emulation was accepted
    started: int = 0
    finished: int = 0

    def image_lock(self, name: str) -> threading.Lock:
        with self.lock:
            return self.image_locks.setdefault(name, threading.Lock())


_SESSIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _session(run: Run) -> _Session:
    with _RECORD_LOCK:
        return _SESSIONS.setdefault(run, _Session())


class _PullMeter:
    """Feeds one pull's events to the shared "pull" bar: layers and bytes, one line per image."""

    def __init__(self, run: Run, session: _Session, instance_id: str):
        self.run, self.session, self.instance_id = run, session, instance_id
        self.layers: dict[str, list[int]] = {}  # id -> [current, total, done]
        with session.lock:
            session.started += 1

    def start(self, name: str) -> None:
        self.run.progress.note(f"pulling {name}")
        self.show()

    def __call__(self, event: dict) -> None:
        layer = event.get("id")
        status = str(event.get("status") or "")
        if not layer or status.startswith(("Pulling from", "Digest", "Status")):
            return
        state = self.layers.setdefault(layer, [0, 0, 0])
        detail = event.get("progressDetail") or {}
        if status == "Downloading" and detail.get("total"):
            state[0], state[1] = int(detail.get("current") or 0), int(detail["total"])
        elif status == "Download complete":
            state[0] = state[1]
        elif status in ("Pull complete", "Already exists"):
            state[0], state[2] = state[1], 1
        self.show()

    def summary(self) -> str:
        done = sum(s[2] for s in self.layers.values())
        current = sum(s[0] for s in self.layers.values()) / 1e6
        total = sum(s[1] for s in self.layers.values()) / 1e6
        return f"{done}/{len(self.layers)} layers, {current:.1f}/{total:.1f} MB"

    def show(self) -> None:
        progress, session = self.run.progress, self.session
        progress.stage("pull", session.started, f"Pulling images: {self.instance_id} {self.summary()}")
        progress.set("pull", session.finished)

    def finish(self) -> None:
        with self.session.lock:
            self.session.finished += 1
        self.run.progress.advance("pull", self.instance_id, self.summary())


def _ask(run: Run, decide: Callable[[str], bool] | None, subject: str) -> bool:
    """The front's answer, the progress display paused while it asks; False without a front to ask."""
    if decide is None:
        return False
    with run.progress.paused():
        return decide(subject)


def docker_login(host: str) -> bool:
    """`docker login HOST` on the terminal (it prompts for the user and token itself); for the
    fronts, which run it when the user agrees (the core only says the command)."""
    import subprocess

    return subprocess.run(["docker", "login", host], check=False).returncode == 0


def _offer_login(run: Run, session: _Session, host: str) -> bool:
    """`docker login HOST`, offered once per run in a TTY; True if a login succeeded."""
    with session.lock:
        if host not in session.logins:
            session.logins[host] = _ask(run, run.ui.login, host)
        return session.logins[host]


def emulated_platform(run: Run) -> str | None:
    """The platform this run's images are pulled and evaluated as: the user's
    DOCKER_DEFAULT_PLATFORM, else AMD64 once emulation was accepted in this run. Kept in the
    run's session, never written to the process environment: the pulls and the harness's
    environment are given it explicitly."""
    return os.environ.get("DOCKER_DEFAULT_PLATFORM") or _session(run).platform


def _offer_emulation(run: Run, session: _Session, instance_id: str) -> bool:
    """DOCKER_DEFAULT_PLATFORM=linux/amd64 for this run: already set, or offered once in a TTY."""
    with session.lock:
        if emulated_platform(run) == AMD64:
            return True
        if session.emulation_refused:
            return False
        if _ask(
            run,
            run.ui.confirm,
            f"No arm64 image for {instance_id}. Run x86_64 images under "
            f"emulation (DOCKER_DEFAULT_PLATFORM={AMD64}) for this session?",
        ):
            session.platform = AMD64
            run.progress.note(f"using DOCKER_DEFAULT_PLATFORM={AMD64} for this session")
            return True
        session.emulation_refused = True
        return False


def _fatal(expected: str, exc: PullError) -> EngineError:
    if exc.kind == "disk":
        return EngineError(
            f"pulling {expected} failed: no space left on the Docker disk", fix=FREE_DISK, detail=exc.message
        )
    if exc.kind == "engine":
        return EngineError(
            f"pulling {expected} failed: the Docker engine stopped answering ({exc.message})", fix=START_DOCKER
        )
    return EngineError(
        f"pulling {expected} failed: {exc.message}",
        fix="check the engine's log; or set SWEBENCH_DOCKER_NAMESPACE to another registry",
    )


def _fallback_error(expected: str, first: PullError, exc: PullError, namespace: str) -> EngineError:
    host = registry_host(exc.image)
    fixes = {
        "auth": f"`docker login {host}`, or set SWEBENCH_DOCKER_NAMESPACE to a registry you can read",
        "denied": f"`docker login {host}`, or set SWEBENCH_DOCKER_NAMESPACE to a registry you can read",
        "missing": f"set SWEBENCH_DOCKER_NAMESPACE to a registry that has it (now {namespace})",
        "rate-limited": f"wait and retry, or `docker login {host}` for a higher limit",
        "unreachable": "check the network or proxy, or set SWEBENCH_DOCKER_NAMESPACE to a reachable registry",
    }
    if exc.kind in FATAL:
        return _fatal(expected, exc)
    return EngineError(
        f"cannot pull {expected} ({first.reason}) nor its fallback {exc.image} ({exc.reason})",
        fix=fixes.get(exc.kind, "check the registry; or set SWEBENCH_DOCKER_NAMESPACE"),
        detail=f"{first.image}: {first.message}\n{exc.image}: {exc.message}",
    )


def ensure_image(run: Run, row: dict) -> ImageResult:
    """Make the row's image present: the harness's name, else the fallback namespace's, tagged.

    At most one fallback per instance; a login or emulation offer retries that same
    fallback once. Engine-down and disk-full are reported, never retried elsewhere.
    """
    iid = row["instance_id"]
    expected = expected_image(row)
    session = _session(run)
    with session.image_lock(expected):
        current = engine.image_id(expected)
        if current is not None:
            return ImageResult(iid, expected, "present", expected, current)
        info = engine.engine_info()
        meter = _PullMeter(run, session, iid)
        meter.start(expected)
        try:
            _pull(expected, None, meter)
        except PullError as first:
            if first.kind not in FALLBACK_KINDS:
                raise _fatal(expected, first) from None
            source = _pull_fallback(run, session, iid, expected, first, info, meter)
            repository, _, tag_ = split_tag(expected)
            engine.tag(source, repository, tag_)
            remember(run.paths, [source, expected], iid, "fallback")
            run.progress.note(f"tagged {source} as {expected}")
            _persist_namespace(run, session, source)
            meter.finish()
            return ImageResult(iid, expected, "fallback", source, engine.image_id(expected))
        remember(run.paths, [expected], iid, "pulled")
        meter.finish()
        return ImageResult(iid, expected, "pulled", expected, engine.image_id(expected))


def _pull_fallback(
    run: Run, session: _Session, iid: str, expected: str, first: PullError, info: EngineInfo, meter: _PullMeter
) -> str:
    """The fallback namespace's image for iid (arm64 natively where it exists); its name."""
    settings = run.settings
    namespace = fallback_namespace(settings)
    arch = effective_arch(settings, info)
    platform = None
    if arch == "arm64" and emulated_platform(run) == AMD64:
        arch, platform = "x86_64", AMD64
    name = fallback_name(namespace, arch, iid)
    run.progress.note(f"{expected}: {first.reason}; trying {name}")
    meter.start(name)
    try:
        _pull(name, platform, meter)
        return name
    except PullError as exc:
        if exc.kind in ("auth", "denied") and _offer_login(run, session, registry_host(name)):
            retry = name
        elif exc.kind == "missing" and arch == "arm64":
            if not _offer_emulation(run, session, iid):
                raise EngineError(
                    f"no arm64 image for {iid} in {namespace} (and {expected}: {first.reason})",
                    fix=f"set DOCKER_DEFAULT_PLATFORM={AMD64} to run x86_64 images under emulation, "
                    "or set SWEBENCH_DOCKER_NAMESPACE to a registry with arm64 images",
                ) from None
            retry, platform = fallback_name(namespace, "x86_64", iid), AMD64
        else:
            raise _fallback_error(expected, first, exc, namespace) from None
    run.progress.note(f"retrying {retry}")
    try:
        _pull(retry, platform, meter)
    except PullError as exc:
        raise _fallback_error(expected, first, exc, namespace) from None
    return retry


def _persist_namespace(run: Run, session: _Session, source: str) -> None:
    """Save the namespace that worked to `.env`, unless the user set one or said --no-input."""
    settings = run.settings
    if settings.docker_namespace or settings.no_input or run.ui.no_input:
        return
    from swebench_tasks.config import save_defaults

    namespace = source.rsplit("/", 1)[0]
    with session.lock:
        if save_defaults(settings.workdir, {"SWEBENCH_DOCKER_NAMESPACE": namespace}, overwrite=False):
            run.progress.note(f"saved SWEBENCH_DOCKER_NAMESPACE={namespace} to {settings.paths.env_file}")
