""""Rerun failed only", end to end: the real engine and harness, the OpenAI-protocol server,
through `swebench run --rerun-failed` and through the run screen's R key in a pty.

The model first answers one instance with a patch that applies but leaves the bug (unresolved)
and the other right; when asked again it answers right. The rerun must ask the model once and
evaluate once (only the failed instance) and end with both resolved.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.providers import KEYS
from tests.test_run import chats
from tests.test_run_docker import gold_for_prompt, hub_dataset, run_json  # noqa: F401
from tests.wizard_support import ENTER, Terminal, save_openai_defaults

pytestmark = pytest.mark.docker


def wrong_first_time(instance_dataset, failing: str):
    """Gold patches, except the first answer for `failing`: a patch that applies and fixes nothing."""
    gold = gold_for_prompt(instance_dataset)
    statement = instance_dataset.row(failing)["problem_statement"].splitlines()[0]
    asked: list[str] = []

    def reply(body: dict) -> str:
        if statement in json.dumps(body["messages"]):
            asked.append(failing)
            if len(asked) == 1:
                return f"```diff\n{instance_dataset.wrong[failing]}```\n"
        return gold(body)

    return reply


def verdict_files(run_id: str, ids: list[str]) -> dict[str, Path]:
    return {i: Path("logs/run_evaluation", run_id, "gpt-4o-mini", i, "report.json") for i in ids}


def harness_runs(run_id: str) -> str:
    """What the last harness invocation says it evaluated ("Running N instances...")."""
    log = Path(".swebench/runs", run_id, "harness.log").read_text()
    return next(line for line in log.splitlines() if line.startswith("Running "))


def test_rerun_failed_asks_and_evaluates_only_the_failed_instance(hub_dataset, instance_dataset,  # noqa: F811
                                                                  openai_server, provider_env, monkeypatch):
    for var, value in provider_env.items():
        monkeypatch.setenv(var, value)
    good, bad = instance_dataset.hub_ids[:2]
    openai_server.on_chat = wrong_first_time(instance_dataset, bad)
    args = ("--provider", "openai", "--model", "gpt-4o-mini", "-d", str(hub_dataset),
            "--instance-ids", f"{good},{bad}")

    first = run_json(*args)
    assert (first["resolved_ids"], first["unresolved_ids"]) == ([good], [bad])
    assert chats(openai_server) == 2
    verdicts = verdict_files(first["run_id"], [good, bad])
    judged_before = verdicts[good].stat().st_mtime_ns
    assert harness_runs(first["run_id"]) == "Running 2 instances..."

    again = run_json(*args, "--rerun-failed")
    assert chats(openai_server) == 3  # one model call: the failed instance's
    generated = [t for t in again["tasks"]["executed"] if t.startswith("generate:")]
    assert generated == [f"generate:{bad}"]
    assert harness_runs(first["run_id"]) == "Running 1 instances..."  # one evaluation
    assert verdicts[good].stat().st_mtime_ns == judged_before  # the resolved one was not judged again
    assert json.loads(verdicts[bad].read_text())[bad]["resolved"] is True
    assert sorted(again["resolved_ids"]) == sorted([good, bad]) and again["unresolved"] == 0
    assert again["resolved"] == 2 and again["errors"] == 0


def test_run_screen_r_key_reruns_the_failed_with_a_key_from_the_environment(
        hub_dataset, instance_dataset, openai_server, provider_env):  # noqa: F811
    """Quick Run with the key in OPENAI_API_KEY (nothing typed, nothing in the keychain), then R."""
    good, bad = instance_dataset.hub_ids[:2]
    openai_server.on_chat = wrong_first_time(instance_dataset, bad)
    env = {"OPENAI_API_KEY": KEYS["openai"], "OPENAI_BASE_URL": provider_env["OPENAI_BASE_URL"],
           "SWEBENCH_RETRY_BASE_SECONDS": "0.01"}
    save_openai_defaults(hub_dataset, 2)
    term = Terminal(env=env)
    term.answer("Choose:", "1", ENTER)
    term.answer("Press Enter to run now", ENTER)
    term.wait("EVALUATION SUMMARY")
    term.wait("Passed: 1   Failed: 1")
    summary = json.loads(next(Path("results").glob("*/summary.json")).read_text())
    verdicts = verdict_files(summary["run_id"], [good, bad])
    judged_before = verdicts[good].stat().st_mtime_ns
    assert chats(openai_server) == 2

    term.answer("Press Enter to exit, or type R to rerun failed only:", "R", ENTER)
    term.wait("EVALUATION SUMMARY")
    term.wait("Passed: 2   Failed: 0")
    term.answer("Press Enter to exit, or type R to rerun failed only:", ENTER)
    assert term.exit_code() == 0, term.screen[-4000:]
    assert "no openai key found" not in term.screen and "Traceback" not in term.screen

    assert chats(openai_server) == 3
    assert harness_runs(summary["run_id"]) == "Running 1 instances..."
    assert verdicts[good].stat().st_mtime_ns == judged_before
    summary = json.loads(next(Path("results").glob("*/summary.json")).read_text())
    assert (summary["resolved"], summary["unresolved"], summary["errors"]) == (2, 0, 0)
