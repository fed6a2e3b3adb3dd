"""The SWE-bench API on 127.0.0.1, speaking what the sb-cli package sends (a pytest plugin).

Endpoints and JSON shapes are read from sb-cli 0.1.4's source:
- `POST /submit` {split, subset, instance_ids, run_id, prediction{instance_id, model_patch,
  model_name_or_path}} -> {launched, instance_id} (launched false: the run already has it);
- `GET /poll-jobs` with a JSON body {run_id, subset, split} -> {running: [...], completed: [...]};
- `POST /get-report` {run_id, subset, split} -> {report: {...}} with the counters sb-cli prints
  (total, submitted, completed, resolved, error, pending, failed `*_instances`) and the id lists;
- `GET /get-quotas` -> {remaining_quotas: {subset: {split: runs}}};
every call authenticated by `x-api-key`; errors as {"message": ...} (sb-cli's verify_response).

`sbcli_server` (per test) hands a reset server; `sbcli_env` points this process and children
at it with a key it accepts. Controls: `quotas`, `verdicts` (instance id -> "resolved" /
"unresolved" / "error"; default resolved), `polls_to_finish` (slow jobs), `hold` (jobs never
finish until cleared), `omit` (ids left out of reports), `fail(status, ...)`, `requests`.
A new run costs one unit of its subset/split quota, as the service's "Remaining Runs" does.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.loopback import LoopbackServer

KEY = "swe-sbcli-test-key-5f3c9a1e0b7d"
SIZES = {("swe-bench_lite", "test"): 300, ("swe-bench_lite", "dev"): 23,
         ("swe-bench_verified", "test"): 500, ("swe-bench-m", "test"): 517, ("swe-bench-m", "dev"): 102}


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any


@dataclass
class Failure:
    status: int
    path: str | None
    message: str
    retry_after: str | None


@dataclass
class Job:
    prediction: dict
    polls: int = 0  # poll-jobs calls seen since it was launched


@dataclass
class Run:
    subset: str
    split: str
    jobs: dict[str, Job] = field(default_factory=dict)


class SbCliServer(LoopbackServer):
    name = "sbcli"

    def reset(self) -> None:
        with self._lock:
            self.requests: list[Call] = []
            self.accepted: list[str] = []  # instance ids of every /submit answered 200, in order
            self.keys = {KEY}
            self.quotas = {"swe-bench_lite": {"test": 5, "dev": 20}, "swe-bench_verified": {"test": 5},
                           "swe-bench-m": {"test": 1, "dev": 20}}
            self.runs: dict[tuple[str, str, str], Run] = {}
            self.verdicts: dict[str, str] = {}
            self.polls_to_finish = 1
            self.hold = False
            self.omit: set[str] = set()
            self.failures: deque[Failure] = deque()

    # -- test-facing ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.root

    def fail(self, status: int, *, path: str | None = None, times: int = 1, message: str = "injected failure",
             retry_after: str | None = None) -> None:
        with self._lock:
            self.failures.extend(Failure(status, path, message, retry_after) for _ in range(times))

    def calls(self, path: str) -> list[Call]:
        with self._lock:
            return [c for c in self.requests if c.path == path]

    def submitted(self) -> list[str]:
        """Instance ids of every /submit the service accepted (launched or not), in order."""
        with self._lock:
            return list(self.accepted)

    # -- serving --------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        call = Call(h.command, urlsplit(h.path).path, {k.lower(): v for k, v in h.headers.items()}, body)
        with self._lock:
            self.requests.append(call)
            failure = next((f for f in self.failures if f.path in (None, call.path)), None)
            if failure is not None:
                self.failures.remove(failure)
        if failure is not None:
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            return self._send(h, failure.status, {"message": failure.message}, headers)
        if call.headers.get("x-api-key") not in self.keys:
            return self._send(h, 401, {"message": "Invalid API key"})
        routes = {("POST", "/submit"): self.submit, ("GET", "/poll-jobs"): self.poll,
                  ("POST", "/get-report"): self.report, ("GET", "/get-quotas"): self.get_quotas}
        route = routes.get((call.method, call.path))
        if route is None:
            return self._send(h, 404, {"message": "Not Found"})
        with self._lock:
            status, reply = route(call.body if isinstance(call.body, dict) else {})
        self._send(h, status, reply)

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        try:
            h.send_response(status)
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    # -- the API (called under the lock) --------------------------------------------------------
    def _run(self, body: dict) -> tuple[tuple[str, str, str], str | None]:
        subset, split = body.get("subset"), body.get("split")
        if (subset, split) not in SIZES:
            return (subset, split, body.get("run_id")), f"Unknown subset/split {subset}/{split}"
        return (subset, split, body.get("run_id")), None

    def submit(self, body: dict) -> tuple[int, dict]:
        key, error = self._run(body)
        prediction = body.get("prediction") or {}
        if error or not key[2] or not {"instance_id", "model_patch", "model_name_or_path"} <= set(prediction):
            return 400, {"message": error or "run_id and prediction{instance_id, model_patch, model_name_or_path} are required"}
        run = self.runs.get(key)
        if run is None:
            if self.quotas.get(key[0], {}).get(key[1], 0) < 1:
                return 429, {"message": f"Submission quota exceeded for {key[0]}/{key[1]}"}
            self.quotas[key[0]][key[1]] -= 1
            run = self.runs[key] = Run(key[0], key[1])
        iid = prediction["instance_id"]
        self.accepted.append(iid)
        if iid in run.jobs:
            return 200, {"launched": False, "instance_id": iid}
        run.jobs[iid] = Job(dict(prediction))
        return 200, {"launched": True, "instance_id": iid}

    def poll(self, body: dict) -> tuple[int, dict]:
        key, error = self._run(body)
        run = self.runs.get(key)
        if error or run is None:
            return 404, {"message": error or f"Run {key[2]} not found"}
        running, completed = [], []
        for iid, job in run.jobs.items():
            job.polls += 1
            (running if self.hold or job.polls < self.polls_to_finish else completed).append(iid)
        return 200, {"running": running, "completed": completed}

    def report(self, body: dict) -> tuple[int, dict]:
        key, error = self._run(body)
        run = self.runs.get(key)
        if error or run is None:
            return 404, {"message": error or f"Run {key[2]} not found"}
        done = {i for i, j in run.jobs.items() if not self.hold and j.polls >= self.polls_to_finish}
        listed = [i for i in run.jobs if i not in self.omit]
        ids = {v: sorted(i for i in listed if i in done and self.verdicts.get(i, "resolved") == v)
               for v in ("resolved", "unresolved", "error")}
        empty = sorted(i for i in listed if not run.jobs[i].prediction["model_patch"].strip())
        pending = sorted(i for i in listed if i not in done)
        report = {
            "total_instances": SIZES[key[:2]],
            "submitted_instances": len(run.jobs),
            "completed_instances": len(ids["resolved"]) + len(ids["unresolved"]),
            "resolved_instances": len(ids["resolved"]),
            "unresolved_instances": len(ids["unresolved"]),
            "empty_patch_instances": len(empty),
            "error_instances": len(ids["error"]),
            "pending_instances": len(pending),
            "failed_instances": len(ids["error"]),
            "completed_ids": sorted(ids["resolved"] + ids["unresolved"]),
            "incomplete_ids": sorted(ids["error"] + pending),
            "empty_patch_ids": empty,
            "submitted_ids": sorted(run.jobs),
            "resolved_ids": ids["resolved"],
            "unresolved_ids": ids["unresolved"],
            "error_ids": ids["error"],
            "schema_version": 2,
        }
        return 200, {"report": report}

    def get_quotas(self, body: dict) -> tuple[int, dict]:
        return 200, {"remaining_quotas": {s: dict(v) for s, v in self.quotas.items()}}


@pytest.fixture(scope="session")
def sbcli_server_session():
    server = SbCliServer().start()
    yield server
    server.stop()


@pytest.fixture
def sbcli_server(sbcli_server_session) -> SbCliServer:
    sbcli_server_session.reset()
    return sbcli_server_session


@pytest.fixture
def sbcli_env(workspace, sbcli_server, monkeypatch) -> dict[str, str]:
    """This process and its children talk to the fake service with a key it accepts."""
    env = {"SWEBENCH_API_URL": sbcli_server.url, "SWEBENCH_API_KEY": KEY}
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    return env
