"""Stage `preflight`: make the first run fail early and helpfully, and re-check only what changed.

Four doit subtasks, each with a record under `.swebench/preflight/`: `system` (the
`checks` service: Python, harness, Docker engine and CLI, arch, namespace, disk, network),
`key` (the provider accepts the key), `image` (the first selected instance's image is
present) and `smoke` (that instance's gold patch resolves through the real harness). Their
up-to-date checks compare what they depend on (harness version, engine, image id, key
fingerprint...) as it is when doit asks, i.e. after the dataset is cached, so a repeated
run re-checks nothing that did not change. With `--backend sb-cli` a `service` subtask
replaces the engine's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

from swebench_tasks import engine, harness, images
from swebench_tasks.backends.local import run_harness
from swebench_tasks.checks import SystemReport, harness_version, run_checks
from swebench_tasks.config import Settings
from swebench_tasks.errors import EngineError, SwebenchError, UsageError
from swebench_tasks.files import write_atomic
from swebench_tasks.stages.runcontext import RunContext

SMOKE_RUN = "preflight-smoke"
SMOKE_MODEL = "preflight-gold"


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


def record_path(ctx: RunContext, step: str) -> Path:
    return ctx.paths.preflight / f"{step}.json"


def provider_url(ctx: RunContext) -> str | None:
    s = ctx.settings
    if not (s.needs_provider and s.provider):
        return None
    return ctx.provider().base_url


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


def system_state(ctx: RunContext) -> dict:
    """What the system checks depend on; cheap enough for every run."""
    s = ctx.settings
    return {
        "python": sys.version,
        "harness_python": s.harness_python,
        "harness": harness_version(s.harness_python),
        "docker": needs_engine(ctx),
        "docker_host": os.environ.get("DOCKER_HOST"),
        "docker_cli": shutil.which("docker"),
        "engine": _engine_id() if needs_engine(ctx) else None,
        "arch": s.arch,
        "namespace": _namespace(s),
        "ids": ctx.selected_ids(),
        "provider": provider_url(ctx),
    }


def needs_engine(ctx: RunContext) -> bool:
    """A local evaluation needs the Docker engine, and so does an agent (it works in the instance
    image) even when the evaluation is hosted (`--backend sb-cli`) or skipped (`--generate-only`)."""
    return ctx.uses_docker or ctx.agent_mode


def run_system(ctx: RunContext) -> SystemReport:
    """The system checks, printed ✔/✖ as they conclude; raises for the first required failure."""
    ctx.check_evaluable()
    report = run_checks(
        ctx.settings,
        ctx.rows(),
        docker=needs_engine(ctx),
        harness=ctx.uses_docker,
        provider_url=provider_url(ctx),
    )
    for check in report.checks:
        ctx.progress.note(check.line())
    _write(record_path(ctx, "system"), report.to_json())
    if report.failures:
        first = report.failures[0]
        raise first.error or EngineError(f"preflight {first.name}: {first.detail}", fix=first.fix)
    return report


def key_skipped(ctx: RunContext) -> str | None:
    """Why there is no provider key to validate; None when there is one."""
    from swebench_tasks.keys import key_env

    s = ctx.settings
    if not s.needs_provider:
        return "gold patches or given predictions need no model"
    if not s.provider:
        return "no provider configured"
    return f"{s.provider} needs no key" if key_env(s.provider) is None else None


def key_state(ctx: RunContext) -> dict:
    from swebench_tasks.keys import key_fingerprint

    try:
        key = ctx.run_key()
    except SwebenchError:
        key = None
    return {
        "provider": ctx.settings.provider,
        "endpoint": provider_url(ctx),
        "fingerprint": key_fingerprint(key) if key else None,
    }


def validate_key(ctx: RunContext) -> None:
    """The provider accepts the key (AuthError, exit 3, if not); only a fingerprint is recorded."""
    from swebench_tasks.keys import key_fix
    from swebench_tasks.providers import get_provider

    s = ctx.settings
    name = s.chosen_provider()
    key = ctx.run_key()
    if not key:
        if ctx.stale_generations() == []:
            ctx.progress.note("✔ key: not needed (every patch is already generated)")
            return
        raise UsageError(f"no API key for {name}", fix=key_fix(name, s.profile))
    provider = ctx.provider() if ctx.key else get_provider(name, key=key, on_wait=ctx.waiter("key"), key_fix=key_fix)
    provider.validate_key()
    state = key_state(ctx)
    _write(record_path(ctx, "key"), {**state, "validated": True})
    ctx.progress.note(f"✔ key: {s.provider} accepts the key ({state['endpoint']})")


def service_state(ctx: RunContext) -> dict:
    from swebench_tasks.backends.sbcli import service_key
    from swebench_tasks.keys import key_fingerprint

    try:
        key = ctx.service_key or service_key(ctx.settings)
    except SwebenchError:
        key = None
    s = ctx.settings
    return {
        "dataset": s.dataset,
        "split": s.split,
        "url": os.environ.get("SWEBENCH_API_URL"),
        "fingerprint": key_fingerprint(key) if key else None,
    }


def check_service(ctx: RunContext) -> None:
    """--backend sb-cli, instead of Docker: the selection is on the service, the key is accepted,
    a run is left; cached per key fingerprint (the evaluation checks the quota again before sending)."""
    from swebench_tasks.backends import sbcli

    try:
        key = ctx.service_key or sbcli.service_key(ctx.settings)
    except SwebenchError:
        key = None
    checks = sbcli.check(ctx.settings, key)
    for check in checks:
        ctx.progress.note(check.line())
    _write(record_path(ctx, "service"), {"checks": [c.to_json() for c in checks]})
    failure = next((c for c in checks if not c.ok), None)
    if failure is not None:
        raise failure.error or EngineError(f"preflight {failure.name}: {failure.detail}", fix=failure.fix)


def first_row(ctx: RunContext) -> dict:
    rows = ctx.rows()
    if not rows:
        raise UsageError("the selection is empty", fix="check -d, --instance-ids and --count")
    return rows[0]


def _first_image(ctx: RunContext) -> str | None:
    rows = ctx.rows()
    return rows[0].get("image") if rows else None


def pull_first(ctx: RunContext) -> images.ImageResult:
    result = images.ensure_image(ctx, first_row(ctx))
    _write(record_path(ctx, "image"), asdict(result))
    verb = {"present": "present", "pulled": "pulled", "fallback": f"pulled as {result.source}"}[result.how]
    ctx.progress.note(f"✔ image: {result.image} ({verb})")
    return result


def smoke_state(ctx: RunContext) -> dict:
    """The smoke test reruns only when the harness, the engine, the image or the namespace change."""
    s = ctx.settings
    rows = ctx.rows()
    return {
        "harness": harness_version(s.harness_python),
        "python": s.harness_python,
        "engine": _engine_id(),
        "instance": rows[0]["instance_id"] if rows else None,
        "image_id": engine.image_id(_first_image(ctx)),
        "namespace": _namespace(s),
    }


def smoke(ctx: RunContext) -> dict:
    """The first instance's gold patch through the real harness; it must resolve."""
    row = first_row(ctx)
    iid = row["instance_id"]
    if not row.get("patch"):
        raise UsageError(f"dataset row {iid} has no gold `patch`", fix="use a dataset in the harness row schema")
    paths = ctx.paths
    predictions = paths.preflight / "smoke-predictions.jsonl"
    predictions.parent.mkdir(parents=True, exist_ok=True)
    predictions.write_text(
        json.dumps({"instance_id": iid, "model_name_or_path": SMOKE_MODEL, "model_patch": row["patch"]}) + "\n"
    )
    # The harness skips an instance it has a report for: a smoke test that reruns starts afresh.
    logs = harness.instance_log_dir(paths.harness_logs, SMOKE_RUN, SMOKE_MODEL, iid)
    shutil.rmtree(logs, ignore_errors=True)
    harness.summary_report_path(paths.reports, SMOKE_MODEL, SMOKE_RUN).unlink(missing_ok=True)
    results = run_harness(
        ctx,
        dataset=ctx.dataset_file,
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
    record = {"instance_id": iid, "image": row.get("image"), "resolved": True, "log": str(logs), **smoke_state(ctx)}
    _write(record_path(ctx, "smoke"), record)
    ctx.progress.note(f"✔ smoke: {iid} resolved with its gold patch")
    return record


def tasks(ctx: RunContext) -> Iterator[dict]:
    """The subtasks of the doit group `preflight`: system, key, image, smoke."""
    yield {
        "basename": "preflight",
        "name": None,
        "doc": "System checks, key validation, one image pull, one-instance smoke.",
    }

    yield {
        "basename": "preflight",
        "name": "system",
        "doc": run_system.__doc__,
        "actions": [ctx.action(run_system)],
        "targets": [record_path(ctx, "system")],
        "task_dep": ["dataset"],
        "uptodate": [unchanged("system", lambda: system_state(ctx))],
        "verbosity": 2,
    }
    if key_skipped(ctx) is None:
        yield {
            "basename": "preflight",
            "name": "key",
            "doc": validate_key.__doc__,
            "actions": [ctx.action(validate_key)],
            "targets": [record_path(ctx, "key")],
            "task_dep": ["dataset"],
            "uptodate": [unchanged("key", lambda: key_state(ctx))],
            "verbosity": 2,
        }
    if ctx.settings.backend == "sb-cli" and not ctx.settings.generate_only:
        yield {
            "basename": "preflight",
            "name": "service",
            "doc": check_service.__doc__,
            "actions": [ctx.action(check_service)],
            "targets": [record_path(ctx, "service")],
            "task_dep": ["dataset"],
            "uptodate": [unchanged("service", lambda: service_state(ctx))],
            "verbosity": 2,
        }
    if ctx.uses_docker:
        yield {
            "basename": "preflight",
            "name": "image",
            "doc": "The first selected instance's image, present locally.",
            "actions": [ctx.action(pull_first)],
            "targets": [record_path(ctx, "image")],
            "task_dep": ["dataset", "preflight:system"],
            "uptodate": [
                lambda: engine.is_present(_first_image(ctx)),
                lambda: (read_record(record_path(ctx, "image")) or {}).get("image") == _first_image(ctx),
            ],
            "verbosity": 2,
        }
        yield {
            "basename": "preflight",
            "name": "smoke",
            "doc": smoke.__doc__,
            "actions": [ctx.action(smoke)],
            "targets": [record_path(ctx, "smoke")],
            "task_dep": ["dataset", "preflight:system", "preflight:image"],
            "uptodate": [unchanged("smoke", lambda: smoke_state(ctx))],
            "verbosity": 2,
        }


# -- for `swebench preflight` ----------------------------------------------------------------------


def summary(ctx: RunContext, failure: SwebenchError | None) -> dict:
    """One document: the checks, key, image and smoke records, the tasks, and the failure."""
    record = ctx.record
    ran = set(record.executed) | set(record.up_to_date)

    def step(name: str) -> dict | None:
        data = read_record(record_path(ctx, name))
        if data is None or f"preflight:{name}" not in ran | set(record.failed):
            return None
        return {**data, "cached": f"preflight:{name}" in record.up_to_date}

    system = step("system")
    skipped = key_skipped(ctx)
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
