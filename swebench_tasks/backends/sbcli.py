"""Evaluation on SWE-bench's hosted service (`--backend sb-cli`), through the sb-cli package.

The service runs the official harness for us, so this backend needs no Docker and no images.
It submits what has no verdict yet (sb-cli's own `submit_prediction`), waits with progress
(bounded by --timeout, resumable), fetches the report and leaves the harness-shaped summary at
`ctx.harness_report` plus a per-instance `report.json`, so the report task, `results/` and
`--json` are the same as for a local run. The key travels only in-process, in the `x-api-key`
header sb-cli sends: never in argv, never on disk.

Caching: `.swebench/runs/<run_id>/sbcli.json` records, per instance, the hash of the patch the
service has and the service run it went to. A patch already sent is never sent again: a rerun
waits for (or fetches) its service run's report, and only instances without a result are
resubmitted. The service never re-evaluates an instance in a run that has it, so a changed
patch goes to a new service run `<run_id>-<8 hex>`, keyed by the content sent and the runs
recorded before it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from swebench_tasks import datasets
from swebench_tasks.errors import AuthError, ProviderError, SwebenchError, UsageError
from swebench_tasks.files import write_atomic

if TYPE_CHECKING:
    from swebench_tasks.stages.runcontext import RunContext

OWNER = "sb-cli"  # the key owner in secrets: SWEBENCH_API_KEY, keychain account `sb-cli`
# Hugging Face id (lower-cased) -> the service's subset name (sb_cli.config.Subset values).
SUBSETS = {
    "swe-bench/swe-bench_lite": "swe-bench_lite",
    "princeton-nlp/swe-bench_lite": "swe-bench_lite",
    "swe-bench/swe-bench_verified": "swe-bench_verified",
    "princeton-nlp/swe-bench_verified": "swe-bench_verified",
    "swe-bench/swe-bench_multimodal": "swe-bench-m",
    "princeton-nlp/swe-bench_multimodal": "swe-bench-m",
}
SPLITS = ("dev", "test")
ATTEMPTS = 5  # per request, for 429, 5xx and network errors
MAX_WAIT = 300.0  # the longest single wait a Retry-After can ask for
POLL_MAX = 15.0  # sb-cli polls every 15 s; we start at 1 s and back off to that
REQUEST_TIMEOUT = 120.0  # get-report builds the report while we wait
_SBCLI_FAILURE = re.compile(r"status code (\d+): (.*)", re.S)


# -- what the service can evaluate -----------------------------------------------------------


def target(settings) -> tuple[str, str]:
    """(subset, split) on the service for the selection, or UsageError naming the backend that can."""
    s = settings
    if datasets.is_local(s.dataset):
        raise UsageError(
            f"--backend sb-cli cannot evaluate a local dataset file ({s.dataset}); "
            "the hosted service has only lite, verified and multimodal",
            fix="use --backend local for a local dataset file",
        )
    subset = SUBSETS.get(datasets.resolve(s.dataset, s.workdir).lower())
    if subset is None:
        raise UsageError(
            f"--backend sb-cli cannot evaluate {s.dataset}; the hosted service has only lite, verified and multimodal",
            fix=f"use --backend local for {s.dataset}",
        )
    if s.split not in SPLITS:
        raise UsageError(
            f"--backend sb-cli cannot evaluate split {s.split!r}; the hosted service has dev and test",
            fix="use --split test or --split dev, or --backend local",
        )
    return subset, s.split


def supported(settings) -> None:
    """Refuse, before anything runs, a selection the hosted service cannot evaluate."""
    target(settings)


def service_key(settings, *, ask_secret: Callable[[str], str] | None = None) -> str:
    """SWEBENCH_API_KEY, resolved exactly like a provider key (env, keychain, `.env` pointer, prompt)."""
    from swebench_tasks import keys

    key = keys.resolve_key(OWNER, workdir=settings.workdir, ask_secret=ask_secret)
    if not key:
        raise UsageError("no SWE-bench API key for --backend sb-cli", fix=keys.key_fix(OWNER))
    return key


# -- the service, spoken through sb-cli ------------------------------------------------------


class Refused(Exception):
    """A failed call: the service's status (0 when it never answered), message and Retry-After."""

    def __init__(self, status: int, message: str, retry_after: float | None = None):
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        """No answer, a 429 or a 5xx: a later attempt may succeed."""
        return self.status in (0, 429) or self.status >= 500


@dataclass
class ServiceRun:
    """A run on the service: its id and where it lives. `ids` is every instance it accepted."""

    id: str
    subset: str
    split: str
    ids: list[str] = field(default_factory=list)
    complete: bool = False  # every instance meant for it was sent


class Service:
    """The SWE-bench API for one key, with sb-cli's URL (SWEBENCH_API_URL), headers and payloads.

    Submission is sb-cli's `submit_prediction`; sb-cli's poll, report and quota commands print
    instead of returning, so those three requests are made here exactly as sb-cli makes them.
    """

    def __init__(
        self, key: str, on_wait: Callable[[float, str], None] | None = None, sleep: Callable[[float], None] = time.sleep
    ):
        self.key = key
        self.on_wait = on_wait  # told of every wait before it is slept
        self.sleep = sleep

    @property
    def url(self) -> str:
        from sb_cli.config import API_BASE_URL

        return API_BASE_URL

    def quotas(self) -> dict[str, dict[str, int]]:
        """Remaining runs per subset and split."""
        try:
            return self._retrying("get-quotas", lambda: self._request("GET", "get-quotas"))["remaining_quotas"]
        except Refused as exc:
            raise self._failure("get-quotas", exc) from None

    def submit(self, run: ServiceRun, instance_ids: list[str], prediction: dict) -> bool:
        """Send one prediction; True if the service launched it, False if the run already had it."""
        from sb_cli.submit import submit_prediction

        base = {"split": run.split, "subset": run.subset, "instance_ids": instance_ids, "run_id": run.id}

        def call() -> dict:
            import requests

            try:
                return submit_prediction(prediction, {"x-api-key": self.key}, base)
            except requests.RequestException as exc:  # sb-cli folds the status into the message
                found = _SBCLI_FAILURE.search(str(exc))
                raise (Refused(int(found[1]), found[2]) if found else Refused(0, str(exc))) from None

        return bool(self._retrying(f"submit {prediction['instance_id']}", call)["launched"])

    def poll(self, run: ServiceRun, instance_ids: list[str]) -> list[str] | None:
        """The instances of the run the service has finished; None if it has no such run (404)."""
        from sb_cli.submit import process_poll_response

        payload = {"run_id": run.id, "subset": run.subset, "split": run.split}
        try:
            result = self._retrying("poll-jobs", lambda: self._request("GET", "poll-jobs", payload))
        except Refused as exc:
            if exc.status == 404:
                return None
            raise self._failure("poll-jobs", exc) from None
        return process_poll_response(result, instance_ids)["completed"]

    def report(self, run: ServiceRun) -> dict:
        """The service's report for the run (sb-cli saves this as <subset>__<split>__<run>.json)."""
        payload = {"run_id": run.id, "subset": run.subset, "split": run.split}
        try:
            return self._retrying("get-report", lambda: self._request("POST", "get-report", payload))["report"]
        except Refused as exc:
            raise self._failure("get-report", exc) from None

    def _request(self, method: str, endpoint: str, payload: dict | None = None) -> dict:
        import requests

        try:
            response = requests.request(
                method, f"{self.url}/{endpoint}", json=payload, headers={"x-api-key": self.key}, timeout=REQUEST_TIMEOUT
            )
        except requests.RequestException as exc:
            raise Refused(0, f"{type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            try:
                message = response.json().get("message", "No message provided")
            except (ValueError, AttributeError):
                message = response.text[:200]
            raise Refused(response.status_code, str(message), _seconds(response.headers.get("Retry-After")))
        return response.json()

    def _retrying(self, what: str, call: Callable[[], dict]) -> dict:
        """429 waits as the service says, 5xx and network errors back off; both bounded.

        A bad key or a used-up quota stops at once; other refusals go back to the caller.
        """
        import tenacity

        def attempt() -> dict:
            try:
                return call()
            except Refused as exc:
                if exc.status in (401, 403):
                    from swebench_tasks.keys import key_fix

                    raise AuthError(
                        f"the SWE-bench API refused the key ({exc.status}: {self.clean(exc.message)})",
                        fix=key_fix(OWNER),
                    ) from None
                if exc.status == 429 and "quota" in exc.message.lower():
                    raise ProviderError(
                        f"SWE-bench API quota exceeded: {self.clean(exc.message)}",
                        fix="check `sb-cli get-quotas`; quotas refresh over time",
                    ) from None
                raise

        def failed(state: tenacity.RetryCallState) -> Refused:
            exc = state.outcome.exception() if state.outcome is not None else None
            assert isinstance(exc, Refused)
            return exc

        def wait(state: tenacity.RetryCallState) -> float:
            """Retry-After on a 429 that gives one, else 1, 2, 4, ... s; never past MAX_WAIT."""
            exc = failed(state)
            asked = exc.retry_after if exc.status == 429 else None
            return min(asked if asked is not None else 2.0 ** (state.attempt_number - 1), MAX_WAIT)

        def before_sleep(state: tenacity.RetryCallState) -> None:
            if self.on_wait is not None and state.next_action is not None:
                self.on_wait(state.next_action.sleep, f"{what}: {self.clean(str(failed(state)))}")

        try:
            return tenacity.Retrying(
                stop=tenacity.stop_after_attempt(ATTEMPTS),
                wait=wait,
                retry=tenacity.retry_if_exception(lambda exc: isinstance(exc, Refused) and exc.transient),
                before_sleep=before_sleep,
                sleep=self.sleep,
                reraise=True,
            )(attempt)
        except Refused as exc:
            if not exc.transient:
                raise
            raise self._failure(what, exc) from None

    def _failure(self, what: str, exc: Refused) -> ProviderError:
        return ProviderError(
            f"the SWE-bench API at {self.url} failed {what}: {self.clean(str(exc))}",
            fix="check the network and SWEBENCH_API_URL, then run `swebench run` again",
        )

    def clean(self, text: str) -> str:
        """One short line, with the key blanked should the service ever echo it."""
        return " ".join(text.replace(self.key, "***").split())[:200]


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def validate_key(key: str, on_wait: Callable[[float, str], None] | None = None) -> None:
    """`swebench secrets set sb-cli`: the key is good if the service shows its quotas."""

    Service(key, on_wait=on_wait).quotas()


# -- preflight ------------------------------------------------------------------------------


def check(settings, key: str | None) -> list:
    """Instead of Docker: the selection is on the service, the key is accepted, a run is left."""
    from swebench_tasks.checks import Check, failed
    from swebench_tasks.keys import key_fix

    try:
        subset, split = target(settings)
    except UsageError as exc:
        return [failed("sb-cli selection", exc)]
    checks = [Check("sb-cli selection", True, f"{subset}/{split}")]
    if not key:
        return checks + [failed("sb-cli key", UsageError("no SWEBENCH_API_KEY", fix=key_fix(OWNER)))]
    service = Service(key)
    try:
        quotas = service.quotas()
    except AuthError as exc:
        return checks + [failed("sb-cli key", exc)]
    except SwebenchError as exc:
        return checks + [failed("sb-cli service", exc)]
    left = quotas.get(subset, {}).get(split, 0)
    quota = (
        Check("sb-cli quota", True, f"{subset}/{split}: {left} runs left")
        if left > 0
        else failed(
            "sb-cli quota",
            ProviderError(
                f"{subset}/{split}: no runs left",
                fix="wait for the quota to refresh (`sb-cli get-quotas`), or use --backend local",
            ),
        )
    )
    return checks + [Check("sb-cli key", True, f"accepted by {service.url}"), quota]


# -- the submission record ------------------------------------------------------------------


@dataclass
class Sent:
    """One instance as the service has it: the hash of its patch and the service run it is in."""

    patch: str
    run: str


@dataclass
class Record:
    """`.swebench/runs/<run_id>/sbcli.json`; saved after every accepted prediction."""

    path: Path
    runs: dict[str, ServiceRun] = field(default_factory=dict)
    sent: dict[str, Sent] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Record:
        try:
            data = json.loads(path.read_text())
            return cls(
                path,
                {k: ServiceRun(**v) for k, v in data["runs"].items()},
                {k: Sent(**v) for k, v in data["sent"].items()},
            )
        except FileNotFoundError:
            return cls(path)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise UsageError(
                f"{path} is corrupted", fix=f"remove {path} (every prediction is then sent again, to a new service run)"
            ) from None

    def save(self) -> None:
        write_atomic(
            self.path,
            json.dumps(
                {
                    "runs": {k: asdict(v) for k, v in self.runs.items()},
                    "sent": {k: asdict(v) for k, v in self.sent.items()},
                },
                indent=1,
            ),
        )

    def run_of(self, instance_id: str, patch: str, subset: str, split: str) -> ServiceRun | None:
        """The service run that has this very patch, if any."""
        sent = self.sent.get(instance_id)
        run = self.runs.get(sent.run) if sent else None
        if sent and run and sent.patch == digest(patch) and (run.subset, run.split) == (subset, split):
            return run
        return None

    def open_run(self, patches: dict[str, str], subset: str, split: str) -> ServiceRun | None:
        """An interrupted submission these instances can still join (none of them is in it)."""
        for run in self.runs.values():
            if not run.complete and (run.subset, run.split) == (subset, split) and not set(patches) & set(run.ids):
                return run
        return None

    def new_run(self, run_id: str, patches: dict[str, str], subset: str, split: str) -> ServiceRun:
        """Keyed by the content sent and the runs before it: a resubmission never reuses a run."""
        content = json.dumps([subset, split, sorted((i, digest(p)) for i, p in patches.items()), sorted(self.runs)])
        return ServiceRun(f"{run_id}-{hashlib.sha256(content.encode()).hexdigest()[:8]}", subset, split)


def digest(patch: str) -> str:
    return hashlib.sha256(patch.encode()).hexdigest()


# -- the evaluate action --------------------------------------------------------------------


def evaluate(ctx: RunContext) -> None:
    """Send what the service lacks, wait for it, and write its verdicts in the harness's shape."""
    s = ctx.settings
    subset, split = target(s)
    ids = ctx.selected_ids()
    preds = ctx.predictions()
    patches = {i: preds[i].patch for i in ids if i in preds and preds[i].patch.strip()}
    record = Record.load(ctx.run_dir / "sbcli.json")
    if s.rerun_failed:
        resolved = set((ctx.previous_summary() or {}).get("resolved_ids", []))
        for iid in [i for i in ids if i not in resolved]:
            record.sent.pop(iid, None)
        record.save()
    verdicts: dict[str, bool] = {}
    reasons: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    if patches:
        service = Service(ctx.service_key or service_key(s), on_wait=ctx.waiter("evaluate"))
        pending = {i: p for i, p in patches.items() if record.run_of(i, p, subset, split) is None}
        if pending:
            reasons.update(_send(ctx, service, record, pending, subset, split))
        for iid in patches:
            if iid not in reasons:
                members.setdefault(record.sent[iid].run, []).append(iid)
        lost = _await(ctx, service, {r: record.runs[r] for r in members}, members)
        for run_id, iids in members.items():
            if run_id in lost:
                reasons.update({i: f"the service no longer has run {run_id}" for i in iids})
                continue
            v, r = _verdicts(service.report(record.runs[run_id]), iids, run_id)
            verdicts.update(v)
            reasons.update(r)
        for iid in reasons:  # no result: sent again by the next evaluation
            record.sent.pop(iid, None)
        record.save()
    _write(ctx, ids, patches, verdicts, reasons, members)


def _send(
    ctx: RunContext, service: Service, record: Record, pending: dict[str, str], subset: str, split: str
) -> dict[str, str]:
    """Submit the pending predictions (quota checked first); returns the ones refused, with why."""
    from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

    run = record.open_run(pending, subset, split)
    quotas = service.quotas()
    left = quotas.get(subset, {}).get(split, 0)
    ctx.progress.note(f"SWE-bench API quota: {left} run{'s' if left != 1 else ''} left for {subset}/{split}")
    if run is None:
        if left < 1:
            raise ProviderError(
                f"the SWE-bench API quota for {subset}/{split} is used up (0 runs left); nothing was sent",
                fix="wait for the quota to refresh (`sb-cli get-quotas`), or use --backend local",
            )
        run = record.new_run(ctx.run_id, pending, subset, split)
        record.runs[run.id] = run
    ctx.progress.note(
        f"Submitting {len(pending)} prediction{'s' if len(pending) != 1 else ''} "
        f"to service run {run.id} ({subset} {split})"
    )
    ctx.progress.stage("submit", len(pending), "Submitting to the SWE-bench service")
    model = ctx.settings.model_name
    lock = threading.Lock()
    refused: dict[str, str] = {}

    def one(iid: str) -> None:
        prediction = {"instance_id": iid, "model_patch": pending[iid], "model_name_or_path": model}
        try:
            service.submit(run, list(pending), prediction)
        except Refused as exc:  # this instance only (e.g. 400: not in the subset)
            with lock:
                refused[iid] = f"the service refused it ({service.clean(str(exc))})"
        else:
            with lock:
                record.sent[iid] = Sent(digest(pending[iid]), run.id)
                if iid not in run.ids:
                    run.ids.append(iid)
                record.save()
        ctx.progress.advance("submit", iid)

    pool = ThreadPoolExecutor(max_workers=max(1, min(ctx.settings.max_workers, len(pending))))
    try:
        futures = [pool.submit(one, iid) for iid in pending]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in done:
            future.result()  # the first fatal error (key, quota, network) stops the rest
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    with lock:
        run.complete = True
        record.save()
    return refused


def _await(ctx: RunContext, service: Service, runs: dict[str, ServiceRun], members: dict[str, list[str]]) -> set[str]:
    """Poll until every run has finished its instances; bounded by --timeout, resumable.

    Returns the runs the service no longer has (their instances have no result).
    """
    total = sum(len(v) for v in members.values())
    ctx.progress.stage("evaluate", total, "Evaluating on the SWE-bench service")
    timeout = ctx.settings.timeout
    deadline = time.monotonic() + timeout
    finished: set[str] = set()
    lost: set[str] = set()
    counts: dict[str, int] = {}
    delay = 1.0
    while True:
        for run_id in [r for r in runs if r not in finished]:
            completed = service.poll(runs[run_id], members[run_id])
            if completed is None:
                lost.add(run_id)
            if completed is None or len(completed) >= len(members[run_id]):
                finished.add(run_id)
            else:
                counts[run_id] = len(completed)
        done = sum(len(members[r]) if r in finished and r not in lost else counts.get(r, 0) for r in runs)
        ctx.progress.set("evaluate", done)
        if len(finished) == len(runs):
            return lost
        left = deadline - time.monotonic()
        if left <= 0:
            raise ProviderError(
                f"the SWE-bench service is still evaluating ({done}/{total} done after {timeout}s; "
                f"service run{'s' if len(runs) > 1 else ''} {', '.join(r for r in runs if r not in finished)})",
                fix="run `swebench run` again to resume waiting (nothing is sent again), or raise --timeout",
            )
        time.sleep(min(delay, left))
        delay = min(delay * 2, POLL_MAX)


def _verdicts(report: dict, instance_ids: list[str], run_id: str) -> tuple[dict[str, bool], dict[str, str]]:
    """Resolved/unresolved per instance; everything else is an error with its reason."""
    resolved = set(report.get("resolved_ids") or [])
    unresolved = set(report.get("unresolved_ids") or [])
    errors = set(report.get("error_ids") or [])
    verdicts: dict[str, bool] = {}
    reasons: dict[str, str] = {}
    for iid in instance_ids:
        if iid in resolved or iid in unresolved:
            verdicts[iid] = iid in resolved
        elif iid in errors:
            reasons[iid] = f"the service reported an evaluation error (service run {run_id})"
        else:
            reasons[iid] = f"missing from the service's report for run {run_id}"
    return verdicts, reasons


def _write(
    ctx: RunContext,
    ids: list[str],
    patches: dict[str, str],
    verdicts: dict[str, bool],
    reasons: dict[str, str],
    members: dict[str, list[str]],
) -> None:
    """The harness's summary report (5.x keys) and per-instance report.json, from the verdicts."""
    runs = {i: r for r, iids in members.items() for i in iids}
    resolved = [i for i in ids if verdicts.get(i) is True]
    unresolved = [i for i in ids if verdicts.get(i) is False]
    errors = [i for i in ids if i in reasons]
    empty = [i for i in ids if i not in patches]
    for iid in ids:
        logs = ctx.instance_logs(iid)
        shutil.rmtree(logs, ignore_errors=True)
        if iid in verdicts:
            logs.mkdir(parents=True, exist_ok=True)
            (logs / "patch.diff").write_text(patches[iid])
            (logs / "report.json").write_text(
                json.dumps(
                    {
                        iid: {
                            "patch_is_None": False,
                            "patch_exists": True,
                            "resolved": verdicts[iid],
                            "evaluated_by": "sb-cli",
                            "service_run_id": runs.get(iid),
                        }
                    },
                    indent=4,
                )
            )
        elif iid in reasons:
            logs.mkdir(parents=True, exist_ok=True)
            (logs / "run_instance.log").write_text(f"sb-cli: {reasons[iid]}\n")
            ctx.progress.note(f"{iid}: error: {reasons[iid]}")
    report = {
        "total_instances": len(ids),
        "submitted_instances": len(patches),
        "completed_instances": len(resolved) + len(unresolved),
        "resolved_instances": len(resolved),
        "unresolved_instances": len(unresolved),
        "empty_patch_instances": len(empty),
        "error_instances": len(errors),
        "completed_ids": sorted(resolved + unresolved),
        "incomplete_ids": sorted(errors),
        "empty_patch_ids": sorted(empty),
        "submitted_ids": sorted(patches),
        "resolved_ids": sorted(resolved),
        "unresolved_ids": sorted(unresolved),
        "error_ids": sorted(errors),
        "failure_reasons": {i: reasons[i] for i in sorted(errors)},
        "schema_version": 2,
        "backend": "sb-cli",
        "service_runs": sorted(members),
    }
    write_atomic(ctx.harness_report, json.dumps(report, indent=4))
