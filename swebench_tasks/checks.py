"""System checks: Python, the harness, the Docker engine and CLI, arch, namespace, disk, network.

Plain functions returning `Check` records, so the preflight stage, `swebench preflight
--json`, the wizard (before any selection) and the sb-cli backend's own checks show them
the same way. Nothing here knows the task graph.
"""

from __future__ import annotations

import functools
import platform
import shutil
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from swebench_tasks import engine, harness, images
from swebench_tasks.errors import EngineError, SwebenchError, UsageError

if TYPE_CHECKING:
    from swebench_tasks.config import Settings

MIN_PYTHON = (3, 10)
GIB = 1024**3
# Disk an instance image takes once pulled (about; layers are shared within a repository),
# and room for the harness's containers and logs.
IMAGE_BYTES = 1 * GIB
HEADROOM_BYTES = 2 * GIB
NETWORK_TIMEOUT = 3.0
HARNESS_FIX = "pip install swebench into {python}, or set SWEBENCH_HARNESS_PYTHON to an interpreter that has it"


@dataclass(frozen=True)
class Check:
    """One preflight check as the user sees it: ✔/✖, what was found, and the fix."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None
    required: bool = True  # a failed optional check (disk, network) only warns
    error: SwebenchError | None = field(default=None, compare=False, repr=False)

    def line(self) -> str:
        mark = "✔" if self.ok else "✖"
        warn = "" if self.ok or self.required else " (warning)"
        fix = f" (fix: {self.fix})" if self.fix and not self.ok else ""
        return f"{mark} {self.name}: {self.detail}{warn}{fix}"

    def to_json(self) -> dict:
        return {"name": self.name, "ok": self.ok, "required": self.required, "detail": self.detail, "fix": self.fix}


def failed(name: str, exc: SwebenchError, required: bool = True) -> Check:
    return Check(name, False, exc.message, exc.fix, required, exc)


# -- the checks ----------------------------------------------------------------------------------


def check_python() -> Check:
    ok = sys.version_info >= MIN_PYTHON
    need = ".".join(map(str, MIN_PYTHON))
    return Check(
        "python",
        ok,
        f"Python {platform.python_version()} ({sys.executable})",
        None if ok else f"use Python {need} or newer",
    )


def check_harness(python: str) -> Check:
    """The harness imports in SWEBENCH_HARNESS_PYTHON (the real import, as an evaluation does)."""
    code = (
        "import sys, importlib.metadata as m; import swebench.harness.run_evaluation; "
        "print(m.version('swebench')); print(sys.version.split()[0])"
    )
    fix = HARNESS_FIX.format(python=python)
    try:
        proc = subprocess.run(
            [python, "-c", code],
            capture_output=True,
            text=True,
            env=harness.child_env(),
            stdin=subprocess.DEVNULL,
            timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return failed("harness", EngineError(f"cannot run {python}: {exc}", fix=fix))
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        last = tail.splitlines()[-1] if tail else f"exit {proc.returncode}"
        return failed(
            "harness", EngineError(f"the harness does not import with {python}: {last}", fix=fix, detail=tail)
        )
    version, py_version = (proc.stdout.split() + ["?", "?"])[:2]
    return Check("harness", True, f"swebench {version} (Python {py_version}, {python})")


@functools.cache
def harness_version(python: str) -> str | None:
    """The installed harness's version, cheaply (it keys the smoke test's cache)."""
    if Path(python).resolve() == Path(sys.executable).resolve():
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("swebench")
        except PackageNotFoundError:
            return None
    code = "import importlib.metadata as m; print(m.version('swebench'))"
    try:
        proc = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (proc.stdout.strip() or None) if proc.returncode == 0 else None


def check_engine() -> tuple[Check, engine.EngineInfo | None]:
    try:
        info = engine.engine_info()
    except SwebenchError as exc:
        return failed("docker engine", exc), None
    return Check("docker engine", True, f"Docker {info.version} at {info.address} ({info.os_type}/{info.arch})"), info


def check_docker_cli(info: engine.EngineInfo) -> Check:
    """The harness stops containers with `docker stop`: that CLI must reach the same engine."""
    docker = shutil.which("docker")
    if docker is None:
        return Check(
            "docker command",
            False,
            "`docker` is not on PATH (the harness stops containers with it)",
            "install the Docker command line (e.g. `apt-get install docker.io`) and put it on PATH",
        )
    try:
        proc = subprocess.run(
            [docker, "info", "--format", "{{.ID}}"],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("docker command", False, f"{docker} does not run: {exc}", "reinstall the Docker command line")
    seen = proc.stdout.strip()
    if proc.returncode != 0 or seen != info.id:
        why = (proc.stderr.strip().splitlines() or ["no answer"])[-1] if proc.returncode else f"engine {seen}"
        return Check(
            "docker command",
            False,
            f"{docker} does not reach the engine at {info.address} ({why})",
            f"export DOCKER_HOST={info.address} (and unset DOCKER_CONTEXT) so that `docker` uses the same engine",
        )
    return Check("docker command", True, f"{docker} reaches the same engine")


def check_arch(settings: Settings, info: engine.EngineInfo) -> Check:
    try:
        arch = images.effective_arch(settings, info)
    except UsageError as exc:
        return failed("arch", exc)
    source = "SWEBENCH_ARCH" if settings.arch else "the engine's"
    note = (
        "; arm64 images first, else x86_64 under emulation (DOCKER_DEFAULT_PLATFORM=linux/amd64) is offered"
        if arch == "arm64"
        else ""
    )
    return Check("arch", True, f"{arch} ({source}; engine {info.arch}){note}")


def check_namespace(settings: Settings) -> Check:
    try:
        namespace = images.fallback_namespace(settings)
    except UsageError as exc:
        return failed("fallback namespace", exc)
    return Check("fallback namespace", True, namespace)


def check_disk(free: int, missing: int, where: str) -> Check:
    """Free space on the engine's disk against what the missing images will take (a warning)."""
    need = missing * IMAGE_BYTES + HEADROOM_BYTES
    detail = f"{free / GIB:.1f} GiB free at {where}; {missing} image(s) to pull need about {need / GIB:.1f} GiB"
    ok = free >= need
    return Check(
        "disk",
        ok,
        detail,
        None
        if ok
        else f"free {(need - free) / GIB:.1f} GiB (`docker system prune`), or select fewer instances (--count)",
        required=False,
    )


def _free_bytes(info: engine.EngineInfo) -> int | None:
    """Free bytes on the engine's data disk, if that is this machine's (not a VM's or a remote host's)."""
    if not (engine.engine_address().socket_path and sys.platform.startswith("linux") and info.root_dir):
        return None
    try:
        return shutil.disk_usage(info.root_dir).free
    except OSError:
        return None


def _reach(host: str, port: int) -> str | None:
    """None if a TCP connection to host:port opens, else why not."""
    try:
        socket.create_connection((host, port), timeout=NETWORK_TIMEOUT).close()
        return None
    except OSError as exc:
        return exc.strerror or str(exc) or type(exc).__name__


def _endpoint(url: str) -> tuple[str, int]:
    parts = urlsplit(url if "://" in url else f"https://{url}")
    secure = parts.scheme != "http"
    return parts.hostname or url, parts.port or (443 if secure else 80)


def network_targets(
    settings: Settings, info: engine.EngineInfo | None, images_needed: list[str] | None, provider_url: str | None
) -> dict[str, tuple[str, int]]:
    """What the run will talk to: the registries of the images still to pull (None: no selection
    yet, so Docker Hub's), their fallback namespace's, and the provider."""
    targets: dict[str, tuple[str, int]] = {}
    needed = ["docker.io/x"] if images_needed is None else images_needed
    hosts = {images.registry_host(name) for name in needed}
    if needed:
        try:
            hosts.add(images.registry_host(images.fallback_namespace(settings) + "/x"))
        except UsageError:
            pass  # reported by the namespace check
    for host in sorted(hosts):
        if host == "docker.io" and info is not None and info.mirrors:
            for mirror in info.mirrors:
                targets[f"registry mirror {mirror.rstrip('/')}"] = _endpoint(mirror)
        elif host == "docker.io":
            targets["registry docker.io"] = ("registry-1.docker.io", 443)
        else:
            targets[f"registry {host}"] = _endpoint(host)
    if provider_url:
        targets[f"provider {provider_url}"] = _endpoint(provider_url)
    return targets


def check_network(targets: dict[str, tuple[str, int]], no_registry: str) -> list[Check]:
    """A TCP connection to each target, all at once (a slow DNS costs its timeout once).
    Warnings only: images already present need no registry. `no_registry` says why, when
    no registry is among the targets."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, len(targets))) as pool:
        errors = list(pool.map(lambda target: _reach(*target), targets.values()))
    checks = []
    for (label, (host, port)), error in zip(targets.items(), errors, strict=True):
        checks.append(
            Check(
                f"network: {label}",
                error is None,
                f"{host}:{port} reachable" if error is None else f"{host}:{port} unreachable: {error}",
                None if error is None else "check the network or proxy (images already present still work offline)",
                required=False,
            )
        )
    if not any(label.startswith("registry") for label in targets):
        checks.append(Check("network: registries", True, f"not needed: {no_registry}", required=False))
    return checks


@dataclass
class SystemReport:
    """The system checks and the facts later steps key their caches on."""

    checks: list[Check]
    harness_version: str | None = None
    engine: engine.EngineInfo | None = None

    @property
    def failures(self) -> list[Check]:
        """Required checks that failed, bad input (exit 2) first."""
        failed = [c for c in self.checks if c.required and not c.ok]
        return sorted(failed, key=lambda c: not isinstance(c.error, UsageError))

    def to_json(self) -> dict:
        return {
            "ok": not self.failures,
            "harness_version": self.harness_version,
            "engine": asdict(self.engine) if self.engine else None,
            "checks": [c.to_json() for c in self.checks],
        }


def run_checks(
    settings: Settings,
    rows: list[dict] | None,
    *,
    docker: bool = True,
    harness: bool | None = None,
    provider_url: str | None = None,
) -> SystemReport:
    """Every system check for a selection (None: none made yet); `docker` False skips the engine's,
    `harness` False the harness's (default: as `docker`; an agent needs the engine, not the harness)."""
    harness = docker if harness is None else harness
    checks = [
        check_python(),
        check_harness(settings.harness_python)
        if harness
        else Check("harness", True, "not needed: evaluation is not local"),
    ]
    report = SystemReport(checks, harness_version(settings.harness_python) if checks[-1].ok and harness else None)
    missing: list[str] | None = None  # no selection yet: Docker Hub's registry
    if rows is not None:  # until the engine says which images it has, each may need its registry
        missing = [r["image"] for r in rows if r.get("image")] if docker else []
    if docker:
        engine_check, info = check_engine()
        checks.append(engine_check)
        report.engine = info
        checks.append(check_namespace(settings))
        if info is not None:
            checks += [check_docker_cli(info), check_arch(settings, info)]
            if missing:
                missing = [name for name in missing if not engine.is_present(name)]
            free = _free_bytes(info)
            checks.append(
                check_disk(free, len(missing or ()), info.root_dir)
                if free is not None
                else Check(
                    "disk", True, f"the engine's disk ({info.root_dir}) is not visible from here", required=False
                )
            )
    present = len(rows or ()) - len(missing or ())
    why = f"the engine has all {present} selected image(s)" if docker else "evaluation is not local"
    checks += check_network(network_targets(settings, report.engine, missing, provider_url), why)
    return report


def system_checks(workdir: Path) -> list[Check]:
    """The checks for the wizard, before any selection: this directory's settings, no dataset."""
    from swebench_tasks.config import load_settings

    settings = load_settings(workdir, no_input=True)
    url = None
    if settings.provider:
        from swebench_tasks.providers import get_provider

        url = get_provider(settings.provider).base_url
    return run_checks(
        settings,
        None,
        docker=settings.backend == "local" or settings.agent != "none",
        harness=settings.backend == "local",
        provider_url=url,
    ).checks
