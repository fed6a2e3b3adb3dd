"""`--backend sb-cli`: evaluation on SWE-bench's hosted service, against the fake service.

The fake (tests/support/sbcli_server.py) speaks the endpoints and JSON shapes the sb-cli
package sends; the first tests drive it with the real `sb-cli` command line, the rest run the
real `swebench` CLI, which talks to it through the sb-cli package in-process.

`-d lite` rows come from the Hugging Face hub, which these tests cannot reach, so each test
pre-seeds the dataset cache the graph reads (`.swebench/datasets/SWE-bench__SWE-bench_Lite-test.jsonl`)
with three rows that have real Lite instance ids and our own small patches; the run then
evaluates `--model gold` (those patches), which needs no model provider.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from swebench_tasks.datasets import cache_path
from tests.support.sbcli_server import KEY
from tests.test_run import swebench

IDS = ["astropy__astropy-12907", "django__django-11099", "sympy__sympy-20590"]
ROWS = [
    {"instance_id": IDS[0], "repo": "astropy/astropy", "base_commit": "d16bfe05a744909de4b27f5875fe0d4ed41ce607",
     "version": "4.3", "problem_statement": "separability_matrix does not compute separability correctly for "
     "nested CompoundModels", "hints_text": "",
     "patch": "--- a/astropy/modeling/separable.py\n+++ b/astropy/modeling/separable.py\n@@ -242 +242 @@\n"
              "-        cright[-right.shape[0]:, -right.shape[1]:] = 1\n"
              "+        cright[-right.shape[0]:, -right.shape[1]:] = right\n"},
    {"instance_id": IDS[1], "repo": "django/django", "base_commit": "d26b2424437dabeeca94d7900b37d2df4410da0c",
     "version": "3.0", "problem_statement": "UsernameValidator allows a trailing newline in usernames",
     "hints_text": "",
     "patch": "--- a/django/contrib/auth/validators.py\n+++ b/django/contrib/auth/validators.py\n@@ -10 +10 @@\n"
              "-    regex = r'^[\\w.@+-]+$'\n+    regex = r'^[\\w.@+-]+\\Z'\n"},
    {"instance_id": IDS[2], "repo": "sympy/sympy", "base_commit": "cffd4e0f86fefd4802349a9f9b19ed70934ea354",
     "version": "1.7", "problem_statement": "Symbol instances have __dict__ since 1.7?", "hints_text": "",
     "patch": "--- a/sympy/core/_print_helpers.py\n+++ b/sympy/core/_print_helpers.py\n@@ -17,0 +18,2 @@\n"
              "+    __slots__ = ()\n+\n"},
]
RUN = ("run", "--no-input", "--json", "--backend", "sb-cli", "-d", "lite", "--model", "gold", "--no-preflight")
SPEC_KEYS = {"run_id", "provider", "model", "dataset", "selected", "generated", "evaluated", "resolved",
             "unresolved", "errors", "empty_patches", "resolved_ids", "unresolved_ids", "error_ids",
             "results_dir", "report_path", "predictions_path", "cost_usd", "tokens", "tasks", "applied"}
# Beyond the contract's keys: why each error failed, and whether evaluation was asked for.
EXTRA_KEYS = {"error_reasons", "evaluation"}
NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}  # any Docker call would fail


@pytest.fixture
def lite(workspace, sbcli_env) -> Path:
    """The Lite test split's cache, seeded with three real Lite ids (the hub is out of reach)."""
    path = cache_path(workspace / ".swebench", "lite", "test", workspace)
    assert path.name == "SWE-bench__SWE-bench_Lite-test.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return swebench(*RUN, *args, env={**NO_DOCKER, **(env or {})})


def sb_cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    """The real sb-cli command line (its console script, beside this interpreter)."""
    return subprocess.run([str(Path(sys.executable).with_name("sb-cli")), *args], capture_output=True, text=True,
                          env={**os.environ, **env, "COLUMNS": "200"}, stdin=subprocess.DEVNULL)


# -- the fake service is what sb-cli expects ------------------------------------------------

def test_subsets_are_sb_clis(lite):
    from sb_cli.config import Subset

    from swebench_tasks.backends.sbcli import SUBSETS

    assert set(SUBSETS.values()) == {s.value for s in Subset}


def test_real_sb_cli_submits_polls_and_reports_against_the_fake(lite, sbcli_server, sbcli_env, tmp_path):
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps({"instance_id": r["instance_id"], "model_name_or_path": "gold",
                                         "model_patch": r["patch"]}) + "\n" for r in ROWS))
    sbcli_server.verdicts = {IDS[1]: "unresolved"}

    quotas = sb_cli("get-quotas", env=sbcli_env)
    assert quotas.returncode == 0, quotas.stderr
    assert "swe-bench_lite" in quotas.stdout and "Remaining" in quotas.stdout

    out = sb_cli("submit", "swe-bench_lite", "test", "--predictions_path", str(preds), "--run_id", "r1",
                 "--output_dir", str(tmp_path / "reports"), "--verify_submission", "1", env=sbcli_env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 new predictions uploaded" in out.stdout
    report = json.loads((tmp_path / "reports" / "swe-bench_lite__test__r1.json").read_text())
    assert report["resolved_ids"] == sorted([IDS[0], IDS[2]]) and report["unresolved_ids"] == [IDS[1]]
    assert sbcli_server.quotas["swe-bench_lite"]["test"] == 4  # a new run costs one
    assert {c.headers["x-api-key"] for c in sbcli_server.requests} == {KEY}

    again = sb_cli("submit", "swe-bench_lite", "test", "--predictions_path", str(preds), "--run_id", "r1",
                   "--gen_report", "0", "--wait_for_evaluation", "0", env=sbcli_env)
    assert "3 predictions already submitted" in again.stdout

    wrong = sb_cli("get-quotas", env={**sbcli_env, "SWEBENCH_API_KEY": "nope"})
    assert wrong.returncode != 0 and "status code 401" in wrong.stdout + wrong.stderr


# -- swebench run --backend sb-cli ----------------------------------------------------------

def test_lite_through_the_service_then_rerun_sends_nothing(lite, sbcli_server):
    sbcli_server.verdicts = {IDS[1]: "unresolved"}
    sbcli_server.polls_to_finish = 3  # slow jobs: a few polls before they finish
    out = run()
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert set(summary) == SPEC_KEYS | EXTRA_KEYS
    assert (summary["selected"], summary["evaluated"], summary["resolved"], summary["unresolved"],
            summary["errors"], summary["empty_patches"]) == (3, 3, 2, 1, 0, 0)
    assert summary["resolved_ids"] == [IDS[0], IDS[2]] and summary["unresolved_ids"] == [IDS[1]]
    assert "evaluate" in summary["tasks"]["executed"]
    assert "SWE-bench API quota: 5 runs left for swe-bench_lite/test" in out.stderr
    assert sorted(sbcli_server.submitted()) == IDS
    assert len(sbcli_server.calls("/get-quotas")) == 1 and len(sbcli_server.calls("/get-report")) == 1
    assert len(sbcli_server.calls("/poll-jobs")) >= 3
    leaks = [str(p) for p in Path.cwd().rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert leaks == [] and KEY not in out.stdout + out.stderr

    # The same layout as a local run: the harness's summary report, per-instance report.json.
    report = json.loads(Path(summary["report_path"]).read_text())
    assert Path(summary["report_path"]) == Path("evaluation_results").resolve() / f"gold.{summary['run_id']}.json"
    assert report["resolved_ids"] == summary["resolved_ids"] and report["schema_version"] == 2
    for iid in IDS:
        per = json.loads((Path(summary["results_dir"]) / iid / "report.json").read_text())
        assert per[iid]["resolved"] is (iid != IDS[1])
        assert (Path(summary["results_dir"]) / iid / "patch.diff").read_text() == ROWS[IDS.index(iid)]["patch"]

    again = run()
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert "evaluate" in second["tasks"]["up_to_date"] and "evaluate" not in second["tasks"]["executed"]
    assert second["resolved_ids"] == summary["resolved_ids"]

    # Without the report, evaluate runs again: it fetches the existing report, sends nothing.
    Path(summary["report_path"]).unlink()
    third = run()
    assert third.returncode == 0, third.stderr
    assert "evaluate" in json.loads(third.stdout)["tasks"]["executed"]
    assert json.loads(third.stdout)["resolved_ids"] == summary["resolved_ids"]
    assert sorted(sbcli_server.submitted()) == IDS
    assert len(sbcli_server.calls("/get-report")) == 2
    assert sbcli_server.quotas["swe-bench_lite"]["test"] == 4


def test_preflight_for_sb_cli_needs_no_docker(lite, sbcli_server):
    out = swebench(*[a for a in RUN if a != "--no-preflight"], env=NO_DOCKER)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["resolved"] == 3


def test_preflight_command_checks_key_and_quota_instead_of_docker(lite, sbcli_server):
    args = ("preflight", "--no-input", "--json", "--backend", "sb-cli", "-d", "lite", "--model", "gold")
    out = swebench(*args, env=NO_DOCKER)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["ok"] and "preflight:service" in doc["tasks"]["executed"]
    assert "preflight:smoke" not in doc["tasks"]["executed"] + doc["tasks"]["up_to_date"]
    assert sbcli_server.calls("/get-quotas")
    sbcli_server.quotas["swe-bench_lite"]["test"] = 0
    assert swebench(*args, env=NO_DOCKER).returncode == 0  # cached per key: quota is checked again on submit
    out = swebench(*args, env={**NO_DOCKER, "SWEBENCH_API_KEY": "wrong-key-123"})
    assert out.returncode == 3 and "wrong-key-123" not in out.stderr + out.stdout


def test_changed_patch_goes_to_a_new_service_run_alone(lite, sbcli_server):
    assert run().returncode == 0
    rows = [dict(r) for r in ROWS]
    rows[2]["patch"] += "+# and document it\n"
    lite.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = run()
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["resolved"] == 3
    assert sbcli_server.submitted()[3:] == [IDS[2]]  # only the changed instance is sent again
    assert len({key[2] for key in sbcli_server.runs}) == 2


def test_interrupted_wait_resumes_without_resubmitting(lite, sbcli_server):
    sbcli_server.hold = True  # the service keeps evaluating
    proc = subprocess.Popen([sys.executable, "-m", "swebench_tasks", *RUN], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env={**os.environ, **NO_DOCKER})
    try:
        deadline = time.monotonic() + 120
        while not sbcli_server.calls("/poll-jobs") and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sbcli_server.calls("/poll-jobs"), proc.poll()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert sorted(sbcli_server.submitted()) == IDS

    sbcli_server.hold = False
    out = run()
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["resolved"] == 3
    assert sorted(sbcli_server.submitted()) == IDS  # nothing sent again
    assert len(sbcli_server.calls("/get-quotas")) == 1  # nothing to send, so no quota check


def test_wait_is_bounded_by_timeout_and_resumable(lite, sbcli_server):
    sbcli_server.hold = True
    out = run("--timeout", "2")
    assert out.returncode == 3, out.stderr
    line = out.stderr.strip().splitlines()[-1]
    assert "still evaluating (0/3 done after 2s" in line and "run `swebench run` again" in line
    sbcli_server.hold = False
    out = run()
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["resolved"] == 3
    assert sorted(sbcli_server.submitted()) == IDS


def test_instance_missing_from_report_is_an_error_with_reason_and_is_resent(lite, sbcli_server):
    sbcli_server.omit = {IDS[0]}
    out = run()
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["error_ids"] == [IDS[0]] and summary["resolved"] == 2 and summary["errors"] == 1
    reason = "missing from the service's report for run"
    assert reason in out.stderr
    assert reason in (Path(summary["results_dir"]) / IDS[0] / "log_tail.txt").read_text()
    report = json.loads(Path(summary["report_path"]).read_text())
    assert reason in report["failure_reasons"][IDS[0]]

    sbcli_server.omit = set()
    out = run("--rerun-failed")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["resolved"] == 3
    assert sbcli_server.submitted()[3:] == [IDS[0]]  # only the one without a result, in a new run


def test_quota_exceeded_sends_nothing(lite, sbcli_server):
    sbcli_server.quotas["swe-bench_lite"]["test"] = 0
    out = run()
    assert out.returncode == 3, out.stderr
    assert "quota for swe-bench_lite/test is used up (0 runs left); nothing was sent" in out.stderr
    assert sbcli_server.calls("/submit") == []


def test_wrong_key_is_exit_3_and_never_printed(lite, sbcli_server, no_keychain):
    wrong = "swe-wrong-key-0123456789abcdef"
    out = run(env={**no_keychain, "SWEBENCH_API_KEY": wrong})
    assert out.returncode == 3, out.stderr
    # no keychain to store a key in: the fix is the variable
    assert "refused the key (401" in out.stderr and "fix: export SWEBENCH_API_KEY=<your key>" in out.stderr
    assert wrong not in out.stdout + out.stderr
    assert sbcli_server.calls("/submit") == []


def test_no_key_is_exit_2_with_the_fix(lite, sbcli_server, no_keychain, monkeypatch):
    monkeypatch.delenv("SWEBENCH_API_KEY")
    out = run(env=no_keychain)
    assert out.returncode == 2, out.stderr
    assert "fix: export SWEBENCH_API_KEY=<your key>" in out.stderr and "secrets set" not in out.stderr
    assert sbcli_server.requests == []


def test_429_waits_then_submits(lite, sbcli_server):
    sbcli_server.fail(429, path="/get-quotas", retry_after="1", message="Too Many Requests")
    sbcli_server.fail(429, path="/submit", message="Too Many Requests")
    out = run("--max-workers", "1")
    assert out.returncode == 0, out.stderr
    assert "waiting 1s: get-quotas: 429: Too Many Requests" in out.stderr
    assert "waiting 1s: submit" in out.stderr
    assert json.loads(out.stdout)["resolved"] == 3
    assert len(sbcli_server.calls("/submit")) == 4 and sorted(sbcli_server.submitted()) == IDS


@pytest.mark.parametrize("args, message", [
    (("-d", "full"), "--backend sb-cli cannot evaluate full"),
    (("-d", "data.jsonl"), "cannot evaluate a local dataset file (data.jsonl)"),
    (("--split", "train"), "cannot evaluate split 'train'"),
])
def test_unsupported_selection_is_refused_in_one_line(lite, sbcli_server, args, message):
    Path("data.jsonl").write_text(json.dumps(ROWS[0]) + "\n")
    out = swebench(*RUN, *args)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().count("\n") == 0
    assert message in out.stderr and "--backend local" in out.stderr
    assert sbcli_server.requests == []


def test_key_from_the_keychain_and_no_leak(lite, sbcli_server, keychain_env, monkeypatch):
    from swebench_tasks import keys

    monkeypatch.delenv("SWEBENCH_API_KEY")
    keys.store_key("sb-cli", KEY)
    out = run(env=keychain_env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["resolved"] == 3
    assert {c.headers["x-api-key"] for c in sbcli_server.requests} == {KEY}
    leaks = [str(p) for p in Path.cwd().rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert leaks == [] and KEY not in out.stdout + out.stderr


# -- preflight hook -------------------------------------------------------------------------

def test_preflight_check_reports_key_and_quota(lite, sbcli_server, sbcli_env):
    code = ("import json, os; from pathlib import Path\n"
            "from swebench_tasks.config import load_settings\n"
            "from swebench_tasks.backends.sbcli import check\n"
            "s = load_settings(Path.cwd(), backend='sb-cli', dataset='lite')\n"
            "key = os.environ['SWEBENCH_API_KEY'] or None\n"
            "print(json.dumps([c.to_json() for c in check(s, key)]))\n")

    def checks(key: str) -> dict[str, dict]:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "SWEBENCH_API_KEY": key})
        return {c["name"]: c for c in json.loads(out.stdout)}

    good = checks(KEY)
    assert good["sb-cli selection"]["ok"] and good["sb-cli key"]["ok"] and good["sb-cli quota"]["ok"]
    assert "5 runs left" in good["sb-cli quota"]["detail"]
    bad = checks("wrong")
    assert not bad["sb-cli key"]["ok"] and "401" in bad["sb-cli key"]["detail"]
    sbcli_server.quotas["swe-bench_lite"]["test"] = 0
    assert not checks(KEY)["sb-cli quota"]["ok"]
    assert not checks("")["sb-cli key"]["ok"]


def test_service_retry_policy_through_the_real_client(sbcli_env, sbcli_server):
    """Every wait is reported, then slept (injected); Retry-After is honoured; the budget is bounded."""
    from swebench_tasks.backends.sbcli import ATTEMPTS, Service
    from swebench_tasks.errors import ProviderError

    waits: list[tuple[float, str]] = []
    slept: list[float] = []
    service = Service(KEY, on_wait=lambda seconds, why: waits.append((seconds, why)), sleep=slept.append)

    sbcli_server.fail(429, path="/get-quotas", retry_after="7", message="Too Many Requests")
    sbcli_server.fail(503, path="/get-quotas", message="busy")
    assert service.quotas()
    assert waits == [(7.0, "get-quotas: 429: Too Many Requests"), (2.0, "get-quotas: 503: busy")]
    assert slept == [7.0, 2.0]

    waits.clear()
    slept.clear()
    sbcli_server.fail(503, path="/get-quotas", times=ATTEMPTS, message="busy")
    with pytest.raises(ProviderError, match="failed get-quotas: 503: busy"):
        service.quotas()
    assert slept == [1.0, 2.0, 4.0, 8.0][: ATTEMPTS - 1] and len(waits) == ATTEMPTS - 1

    waits.clear()
    slept.clear()
    sbcli_server.fail(400, path="/get-quotas", message="bad request")
    with pytest.raises(ProviderError, match="failed get-quotas: 400: bad request"):  # not retried
        service.quotas()
    assert waits == [] and slept == []
