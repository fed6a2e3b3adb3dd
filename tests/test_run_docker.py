"""`swebench run` with the real harness on the real Docker engine, on test-built instances."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path
from typing import Iterator

import pytest

from tests.test_diffs import missing_prefixes, wrong_counts
from tests.support.providers import Failure
from tests.test_run import TOO_LONG, chats, error_lines, swebench

pytestmark = pytest.mark.docker


@pytest.fixture
def hub_dataset(workspace, instance_dataset, docker_engine) -> Iterator[Path]:
    """The instances served under their Docker Hub names, as a local dataset file; the images
    a test pulls are removed after it, so the next test pulls for real."""
    yield instance_dataset.write(Path("instances.jsonl"), instance_dataset.hub_ids)
    docker_engine.remove_images(*(instance_dataset.row(i)["image"] for i in instance_dataset.hub_ids))


def run_json(*args: str, env: dict | None = None) -> dict:
    out = swebench("run", "--no-input", "--json", "--no-preflight", *args, env=env, timeout=900)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_gold_resolves_every_instance_and_rerun_executes_nothing(hub_dataset, instance_dataset):
    summary = run_json("--model", "gold", "-d", str(hub_dataset))
    ids = sorted(instance_dataset.hub_ids)
    assert (summary["selected"], summary["evaluated"], summary["resolved"]) == (len(ids), len(ids), len(ids))
    assert sorted(summary["resolved_ids"]) == ids and summary["errors"] == 0
    assert Path(summary["report_path"]).name == f"gold.{summary['run_id']}.json"
    for iid in ids:
        out = Path(summary["results_dir"], iid)
        assert "diff --git" in (out / "patch.diff").read_text()
        assert json.loads((out / "report.json").read_text())[iid]["resolved"] is True
    assert {"evaluate", "report"} <= set(summary["tasks"]["executed"])

    again = run_json("--model", "gold", "-d", str(hub_dataset))
    assert again["tasks"]["executed"] == []
    assert {"evaluate", "report", "predictions"} <= set(again["tasks"]["up_to_date"])
    assert again["resolved_ids"] == summary["resolved_ids"]


def test_wrong_and_broken_predictions_do_not_resolve(hub_dataset, instance_dataset):
    first, second, *_ = instance_dataset.hub_ids
    preds = instance_dataset.write_predictions(Path("preds.jsonl"), {
        first: instance_dataset.wrong[first], second: instance_dataset.broken[second]})
    summary = run_json("--predictions", str(preds), "-d", str(hub_dataset))
    assert summary["model"] == "acme/test-model" and summary["selected"] == 2
    assert summary["resolved"] == 0
    assert summary["unresolved_ids"] == [first]
    assert summary["error_ids"] == [second]
    tail = Path(summary["results_dir"], second, "log_tail.txt").read_text()
    assert "run_instance.log" in tail


def gold_for_prompt(instance_dataset):
    """A model that answers each instance with its gold patch (found by its problem statement)."""
    def reply(body: dict) -> str:
        prompt = json.dumps(body["messages"])
        for row in instance_dataset.rows:
            if row["problem_statement"].splitlines()[0] in prompt:
                return f"Here is the fix.\n```diff\n{instance_dataset.gold[row['instance_id']]}```\n"
        return "no idea"
    return reply


def test_provider_run_with_retrieval_then_changed_model(hub_dataset, instance_dataset, openai_server,
                                                         provider_env, monkeypatch):
    for var, value in provider_env.items():
        monkeypatch.setenv(var, value)
    openai_server.on_chat = gold_for_prompt(instance_dataset)
    args = ("--provider", "openai", "--model", "gpt-4o-mini", "-d", str(hub_dataset))
    summary = run_json(*args)
    n = len(instance_dataset.hub_ids)
    assert summary["resolved"] == n and summary["applied"] == n
    assert chats(openai_server) == n
    prompts = [json.dumps(r.body) for r in openai_server.requests if r.path.endswith("/chat/completions")]
    assert all("calc/ops.py" in p or "text/words.py" in p for p in prompts)  # retrieved code in context

    again = run_json(*args)
    assert chats(openai_server) == n and again["tasks"]["executed"] == []

    other = run_json("--provider", "openai", "--model", "gpt-4o", "-d", str(hub_dataset))
    assert chats(openai_server) == 2 * n
    kinds = {t.split(":")[0] for t in other["tasks"]["executed"]}
    assert kinds == {"generate", "predictions", "evaluate", "report"}
    assert other["resolved"] == n


def test_a_refused_prompt_fails_alone_and_the_rest_is_evaluated(hub_dataset, instance_dataset, openai_server,
                                                                 provider_env, monkeypatch):
    for var, value in provider_env.items():
        monkeypatch.setenv(var, value)
    first, second, *_ = instance_dataset.hub_ids
    refused = instance_dataset.row(second)["problem_statement"].splitlines()[0]
    gold = gold_for_prompt(instance_dataset)
    openai_server.on_chat = lambda body: (Failure(400, body=TOO_LONG) if refused in json.dumps(body["messages"])
                                          else gold(body))
    summary = run_json("--provider", "openai", "--model", "gpt-4o-mini", "-d", str(hub_dataset),
                       "--instance-ids", f"{first},{second}")
    assert summary["resolved_ids"] == [first] and summary["evaluated"] == 1
    assert summary["error_ids"] == [second] and "context window" in summary["error_reasons"][second]
    assert "evaluate" in summary["tasks"]["executed"]
    assert json.loads(Path(summary["results_dir"], first, "report.json").read_text())[first]["resolved"]


def test_rerun_failed_re_evaluates_only_what_did_not_resolve(hub_dataset, instance_dataset):
    first, second, *_ = instance_dataset.hub_ids
    preds = instance_dataset.write_predictions(Path("preds.jsonl"), {
        first: instance_dataset.gold[first], second: instance_dataset.wrong[second]})
    summary = run_json("--predictions", str(preds), "-d", str(hub_dataset))
    assert summary["resolved_ids"] == [first] and summary["unresolved_ids"] == [second]
    resolved_log = Path("logs/run_evaluation", summary["run_id"], "acme__test-model", first, "report.json")
    before = resolved_log.stat().st_mtime_ns
    again = run_json("--predictions", str(preds), "-d", str(hub_dataset), "--rerun-failed")
    assert "evaluate" in again["tasks"]["executed"]
    assert resolved_log.stat().st_mtime_ns == before  # the resolved one was not evaluated again
    assert again["unresolved_ids"] == [second] and again["resolved_ids"] == [first]


def test_harness_failure_is_exit_4_with_log_path_and_tail(hub_dataset, tmp_path):
    fake = tmp_path / "python-harness"
    fake.write_text(f"#!/bin/sh\ncase \"$*\" in *--help*) exec {sys.executable} \"$@\";; esac\n"
                    "echo 'Traceback (most recent call last):' ; echo 'RuntimeError: boom from harness'; exit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    out = swebench("run", "--no-input", "--no-preflight", "--model", "gold", "-d", str(hub_dataset),
                   env={"SWEBENCH_HARNESS_PYTHON": str(fake)})
    assert out.returncode == 4, out.stderr
    errors = error_lines(out.stderr)
    assert len(errors) == 1 and errors[0].startswith("swebench: the harness exited with code 1")
    log = re.search(r"log: (\S+)", out.stderr).group(1)
    assert os.path.exists(log) and "boom from harness" in out.stderr


def break_counts(patch: str) -> str:
    """Typical model defects: miscounted hunk headers and paths without a/ b/ prefixes."""
    return missing_prefixes(wrong_counts(patch))


def test_defective_diff_is_repaired_and_one_that_cannot_apply_is_retried_once(
        hub_dataset, instance_dataset, openai_server, provider_env, monkeypatch):
    for var, value in provider_env.items():
        monkeypatch.setenv(var, value)
    first, second = instance_dataset.hub_ids[:2]
    asked: dict[str, int] = {}

    def reply(body: dict) -> str:
        prompt = json.dumps(body["messages"])
        iid = first if instance_dataset.row(first)["problem_statement"].splitlines()[0] in prompt else second
        asked[iid] = asked.get(iid, 0) + 1
        if iid == first:
            return f"Sure:\n{break_counts(instance_dataset.gold[first])}\nThat should do it."
        return f"```diff\n{instance_dataset.broken[second]}```"

    openai_server.on_chat = reply
    summary = run_json("--provider", "openai", "--model", "gpt-4o-mini", "-d", str(hub_dataset),
                       "--instance-ids", f"{first},{second}")
    assert break_counts(instance_dataset.gold[first]) != instance_dataset.gold[first]
    assert asked == {first: 1, second: 2}  # exactly one retry, only for the patch that cannot apply
    retry = [r for r in openai_server.requests if r.path.endswith("/chat/completions")][-1]
    assert "apply" in json.dumps(retry.body["messages"][-1]).lower()
    assert summary["resolved_ids"] == [first] and summary["applied"] == 1
    assert summary["empty_patches"] == 1  # the patch that never applied is evaluated as empty
    record = json.loads(Path(".swebench/generations/openai__gpt-4o-mini", f"{second}.json").read_text())
    assert record["applied"] is False and record["attempts"] == 2 and record["patch"] and record["apply_error"]
