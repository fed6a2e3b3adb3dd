"""Preflight: make the first run fail early and helpfully, and re-check only what changed.

Four doit subtasks of `preflight`, each with a record under `.swebench/preflight/`:
`system` (Python, harness, Docker engine and CLI, arch, namespace, disk, network), `key`
(the provider accepts the key), `image` (the first selected instance's image is present)
and `smoke` (that instance's gold patch resolves through the real harness). Their
up-to-date checks compare what they depend on (harness version, engine, image id, key
fingerprint...) as it is when doit asks, i.e. after the dataset is cached, so a repeated
run re-checks nothing that did not change. The checks are plain functions returning
`Check` records, so `swebench preflight --json` and the wizard can show them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from swebench_tasks import engine, harness, images
from swebench_tasks.errors import EngineError, SwebenchError, UsageError
from swebench_tasks.files import write_atomic

if TYPE_CHECKING:
    from swebench_tasks.config import Settings
    from swebench_tasks.tasks import Graph

MIN_PYTHON = (3, 10)
GIB = 1024**3
# Disk an instance image takes once pulled (about; layers are shared within a repository),
# and room for the harness's containers and logs.
IMAGE_BYTES = 1 * GIB
HEADROOM_BYTES = 2 * GIB
NETWORK_TIMEOUT = 3.0
SMOKE_RUN = "preflight-smoke"
SMOKE_MODEL = "preflight-gold"
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


# -- the doit tasks -----------------------------------------------------------------------------------


class unchanged:
    """doit up-to-date check: `compute()` (evaluated when doit asks, after the task_dep ran)
    equals its value at the last success. doit's config_changed, computed lazily."""

    def __init__(self, name: str, compute: Callable[[], dict]):
        self.key = f"_preflight_{name}"
        self.compute = compute
        self.digest: str | None = None

    def configure_task(self, task) -> None:
        task.value_savers.append(lambda: {self.key: self.digest or self._digest()})

    def _digest(self) -> str:
        return hashlib.sha256(json.dumps(self.compute(), sort_keys=True, default=str).encode()).hexdigest()

    def __call__(self, task, values) -> bool:
        self.digest = self._digest()
        return values.get(self.key) == self.digest


def _write(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def read_record(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def record_path(graph: Graph, step: str) -> Path:
    return graph.paths.preflight / f"{step}.json"


def provider_url(graph: Graph) -> str | None:
    s = graph.settings
    if not (s.needs_provider and s.provider):
        return None
    return graph.provider().base_url


def _engine_id() -> str | None:
    try:
        return engine.engine_info().id
    except SwebenchError:
        return None


def _namespace(settings: Settings) -> str | None:
    try:
        return images.fallback_namespace(settings)
    except UsageError:
        return None


def system_state(graph: Graph) -> dict:
    """What the system checks depend on; cheap enough for every run."""
    s = graph.settings
    return {
        "python": sys.version,
        "harness_python": s.harness_python,
        "harness": harness_version(s.harness_python),
        "docker": needs_engine(graph),
        "docker_host": os.environ.get("DOCKER_HOST"),
        "docker_cli": shutil.which("docker"),
        "engine": _engine_id() if needs_engine(graph) else None,
        "arch": s.arch,
        "namespace": _namespace(s),
        "ids": graph.selected_ids(),
        "provider": provider_url(graph),
    }


def needs_engine(graph: Graph) -> bool:
    """A local evaluation needs the Docker engine, and so does an agent (it works in the instance
    image) even when the evaluation is hosted (`--backend sb-cli`) or skipped (`--generate-only`)."""
    return graph.uses_docker or graph.agent_mode


def run_system(graph: Graph) -> SystemReport:
    """The system checks, printed ✔/✖ as they conclude; raises for the first required failure."""
    graph.check_evaluable()
    report = run_checks(
        graph.settings,
        graph.rows(),
        docker=needs_engine(graph),
        harness=graph.uses_docker,
        provider_url=provider_url(graph),
    )
    for check in report.checks:
        graph.progress.note(check.line())
    _write(record_path(graph, "system"), report.to_json())
    if report.failures:
        first = report.failures[0]
        raise first.error or EngineError(f"preflight {first.name}: {first.detail}", fix=first.fix)
    return report


def key_skipped(graph: Graph) -> str | None:
    """Why there is no provider key to validate; None when there is one."""
    from swebench_tasks.keys import key_env

    s = graph.settings
    if not s.needs_provider:
        return "gold patches or given predictions need no model"
    if not s.provider:
        return "no provider configured"
    return f"{s.provider} needs no key" if key_env(s.provider) is None else None


def key_state(graph: Graph) -> dict:
    from swebench_tasks.keys import key_fingerprint

    try:
        key = graph.run_key()
    except SwebenchError:
        key = None
    return {
        "provider": graph.settings.provider,
        "endpoint": provider_url(graph),
        "fingerprint": key_fingerprint(key) if key else None,
    }


def validate_key(graph: Graph) -> None:
    """The provider accepts the key (AuthError, exit 3, if not); only a fingerprint is recorded."""
    from swebench_tasks.keys import key_fix
    from swebench_tasks.providers import get_provider

    s = graph.settings
    name = s.chosen_provider()
    key = graph.run_key()
    if not key:
        if graph.stale_generations() == []:
            graph.progress.note("✔ key: not needed (every patch is already generated)")
            return
        raise UsageError(f"no API key for {name}", fix=key_fix(name, s.profile))
    provider = (
        graph.provider() if graph.key else get_provider(name, key=key, on_wait=graph.waiter("key"), key_fix=key_fix)
    )
    provider.validate_key()
    state = key_state(graph)
    _write(record_path(graph, "key"), {**state, "validated": True})
    graph.progress.note(f"✔ key: {s.provider} accepts the key ({state['endpoint']})")


def service_state(graph: Graph) -> dict:
    from swebench_tasks.backends.sbcli import service_key
    from swebench_tasks.keys import key_fingerprint

    try:
        key = graph.service_key or service_key(graph.settings)
    except SwebenchError:
        key = None
    s = graph.settings
    return {
        "dataset": s.dataset,
        "split": s.split,
        "url": os.environ.get("SWEBENCH_API_URL"),
        "fingerprint": key_fingerprint(key) if key else None,
    }


def check_service(graph: Graph) -> None:
    """--backend sb-cli, instead of Docker: the selection is on the service, the key is accepted,
    a run is left; cached per key fingerprint (the evaluation checks the quota again before sending)."""
    from swebench_tasks.backends import sbcli

    try:
        key = graph.service_key or sbcli.service_key(graph.settings)
    except SwebenchError:
        key = None
    checks = sbcli.check(graph.settings, key)
    for check in checks:
        graph.progress.note(check.line())
    _write(record_path(graph, "service"), {"checks": [c.to_json() for c in checks]})
    failure = next((c for c in checks if not c.ok), None)
    if failure is not None:
        raise failure.error or EngineError(f"preflight {failure.name}: {failure.detail}", fix=failure.fix)


def first_row(graph: Graph) -> dict:
    rows = graph.rows()
    if not rows:
        raise UsageError("the selection is empty", fix="check -d, --instance-ids and --count")
    return rows[0]


def _first_image(graph: Graph) -> str | None:
    rows = graph.rows()
    return rows[0].get("image") if rows else None


def pull_first(graph: Graph) -> images.ImageResult:
    result = images.ensure_image(graph, first_row(graph))
    _write(record_path(graph, "image"), asdict(result))
    verb = {"present": "present", "pulled": "pulled", "fallback": f"pulled as {result.source}"}[result.how]
    graph.progress.note(f"✔ image: {result.image} ({verb})")
    return result


def smoke_state(graph: Graph) -> dict:
    """The smoke test reruns only when the harness, the engine, the image or the namespace change."""
    s = graph.settings
    rows = graph.rows()
    return {
        "harness": harness_version(s.harness_python),
        "python": s.harness_python,
        "engine": _engine_id(),
        "instance": rows[0]["instance_id"] if rows else None,
        "image_id": engine.image_id(_first_image(graph)),
        "namespace": _namespace(s),
    }


def smoke(graph: Graph) -> dict:
    """The first instance's gold patch through the real harness; it must resolve."""
    row = first_row(graph)
    iid = row["instance_id"]
    if not row.get("patch"):
        raise UsageError(f"dataset row {iid} has no gold `patch`", fix="use a dataset in the harness row schema")
    paths = graph.paths
    predictions = paths.preflight / "smoke-predictions.jsonl"
    predictions.parent.mkdir(parents=True, exist_ok=True)
    predictions.write_text(
        json.dumps({"instance_id": iid, "model_name_or_path": SMOKE_MODEL, "model_patch": row["patch"]}) + "\n"
    )
    # The harness skips an instance it has a report for: a smoke test that reruns starts afresh.
    logs = harness.instance_log_dir(paths.harness_logs, SMOKE_RUN, SMOKE_MODEL, iid)
    shutil.rmtree(logs, ignore_errors=True)
    harness.summary_report_path(paths.reports, SMOKE_MODEL, SMOKE_RUN).unlink(missing_ok=True)
    results = graph.run_harness(
        dataset=graph.dataset_file,
        predictions=predictions,
        instance_ids=[iid],
        run_id=SMOKE_RUN,
        model_name=SMOKE_MODEL,
        stage="smoke",
        label=f"Smoke test: {iid} with its gold patch",
    )
    if iid not in results.resolved_ids:
        log = logs / "run_instance.log"
        if not log.exists():
            log = paths.runs / SMOKE_RUN / "harness.log"
        verdict = "did not resolve" if iid in results.unresolved_ids else "could not be evaluated"
        raise EngineError(
            f"smoke test: the gold patch of {iid} {verdict} on {row.get('image')}",
            fix="read the log below; `docker run --rm -it IMAGE bash` to inspect the image, "
            "or set SWEBENCH_DOCKER_NAMESPACE to another registry",
            detail=f"log: {log}\n{harness.log_tail(log)}",
        )
    record = {"instance_id": iid, "image": row.get("image"), "resolved": True, "log": str(logs), **smoke_state(graph)}
    _write(record_path(graph, "smoke"), record)
    graph.progress.note(f"✔ smoke: {iid} resolved with its gold patch")
    return record


def tasks(graph: Graph) -> Iterator[dict]:
    """The subtasks of the doit group `preflight`: system, key, image, smoke."""

    def action(func: Callable[[Graph], object]) -> Callable[[], object]:
        def run() -> None:
            func(graph)

        run.__name__, run.__doc__ = func.__name__, func.__doc__
        return graph.guard(run)

    yield {
        "name": "system",
        "doc": run_system.__doc__,
        "actions": [action(run_system)],
        "targets": [record_path(graph, "system")],
        "task_dep": ["dataset"],
        "uptodate": [unchanged("system", lambda: system_state(graph))],
        "verbosity": 2,
    }
    if key_skipped(graph) is None:
        yield {
            "name": "key",
            "doc": validate_key.__doc__,
            "actions": [action(validate_key)],
            "targets": [record_path(graph, "key")],
            "task_dep": ["dataset"],
            "uptodate": [unchanged("key", lambda: key_state(graph))],
            "verbosity": 2,
        }
    if graph.settings.backend == "sb-cli" and not graph.settings.generate_only:
        yield {
            "name": "service",
            "doc": check_service.__doc__,
            "actions": [action(check_service)],
            "targets": [record_path(graph, "service")],
            "task_dep": ["dataset"],
            "uptodate": [unchanged("service", lambda: service_state(graph))],
            "verbosity": 2,
        }
    if graph.uses_docker:
        yield {
            "name": "image",
            "doc": "The first selected instance's image, present locally.",
            "actions": [action(pull_first)],
            "targets": [record_path(graph, "image")],
            "task_dep": ["dataset", "preflight:system"],
            "uptodate": [
                lambda: engine.is_present(_first_image(graph)),
                lambda: (read_record(record_path(graph, "image")) or {}).get("image") == _first_image(graph),
            ],
            "verbosity": 2,
        }
        yield {
            "name": "smoke",
            "doc": smoke.__doc__,
            "actions": [action(smoke)],
            "targets": [record_path(graph, "smoke")],
            "task_dep": ["dataset", "preflight:system", "preflight:image"],
            "uptodate": [unchanged("smoke", lambda: smoke_state(graph))],
            "verbosity": 2,
        }


# -- for `swebench preflight` ----------------------------------------------------------------------


def summary(graph: Graph, failure: SwebenchError | None) -> dict:
    """One document: the checks, key, image and smoke records, the tasks, and the failure."""
    record = graph.record
    ran = set(record.executed) | set(record.up_to_date)

    def step(name: str) -> dict | None:
        data = read_record(record_path(graph, name))
        if data is None or f"preflight:{name}" not in ran | set(record.failed):
            return None
        return {**data, "cached": f"preflight:{name}" in record.up_to_date}

    system = step("system")
    skipped = key_skipped(graph)
    key = {"skipped": skipped} if skipped else step("key")
    return {
        "ok": failure is None,
        "checks": (system or {}).get("checks", []),
        "key": key,
        "image": step("image"),
        "smoke": step("smoke"),
        "tasks": {"executed": record.executed, "up_to_date": record.up_to_date, "failed": record.failed},
        "error": None
        if failure is None
        else {"message": failure.message, "fix": failure.fix, "detail": failure.detail, "exit_code": failure.exit_code},
    }
