"""`swebench run` end to end through the real CLI, against the OpenAI-protocol server.

These runs stop before evaluation (`--generate-only`) or feed the gold patches, so
they need no Docker engine; tests/test_run_docker.py evaluates with the real harness.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dotenv import dotenv_values

from tests.support.providers import Failure

DIFF = """\
```diff
--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,2 @@
 def add(a, b):
-    return a - b
+    return a + b
```
"""


def write_dataset(path: Path, n: int = 4) -> Path:
    rows = [{"instance_id": f"acme__calc-{i}", "repo": "acme/calc", "base_commit": "0" * 40,
             "problem_statement": f"add() subtracts (case {i})", "hints_text": "",
             "patch": "--- a/calc.py\n+++ b/calc.py\n@@ -1 +1 @@\n-x\n+y\n", "version": "1.0"}
            for i in range(1, n + 1)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def swebench(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "swebench_tasks", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout, stdin=subprocess.DEVNULL)


BASE = ("run", "--no-input", "--json", "--provider", "openai", "--model", "gpt-4o-mini",
        "--context", "statement", "--generate-only", "-d", "data.jsonl")


@pytest.fixture
def dataset(workspace, openai_server, provider_env, monkeypatch) -> Path:
    for var, value in provider_env.items():
        monkeypatch.setenv(var, value)
    openai_server.on_chat = lambda body: DIFF
    return write_dataset(Path("data.jsonl"))


def error_lines(stderr: str) -> list[str]:
    """The one-line failures (progress lines also go to stderr)."""
    return [ln for ln in stderr.splitlines() if ln.startswith("swebench:")]


def chats(server) -> int:
    return len([p for p in server.paths("POST") if p.endswith("/chat/completions")])


def test_generate_then_rerun_makes_no_request(dataset, openai_server):
    first = swebench(*BASE)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["selected"] == 4 and summary["generated"] == 4 and summary["empty_patches"] == 0
    assert sorted(t for t in summary["tasks"]["executed"] if t.startswith("generate:")) == [
        f"generate:acme__calc-{i}" for i in range(1, 5)]
    assert summary["tokens"]["input"] > 0 and summary["tokens"]["output"] > 0
    assert chats(openai_server) == 4
    lines = Path(summary["predictions_path"]).read_text().splitlines()
    assert {"+    return a + b" in json.loads(line)["model_patch"] for line in lines} == {True}

    second = swebench(*BASE)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert chats(openai_server) == 4  # nothing new was asked
    assert again["tasks"]["executed"] == []
    assert "generate:acme__calc-1" in again["tasks"]["up_to_date"]
    # one line per stage, none per cached instance
    assert "generate: 4 up to date" in second.stderr.splitlines()
    assert "predictions: up to date" in second.stderr.splitlines()
    assert "acme__calc-1" not in second.stderr


def test_generate_only_summary_says_evaluation_was_not_asked_for_and_names_the_predictions(dataset,
                                                                                          openai_server):
    human = [a for a in BASE if a != "--json"]
    out = swebench(*human, "--count", "2")
    assert out.returncode == 0, out.stderr
    summary = json.loads(swebench("report", "--json").stdout)
    predictions = Path(summary["predictions_path"])
    assert summary["evaluation"] == "skipped"
    assert predictions == Path.cwd() / "results" / summary["run_id"] / "predictions.jsonl"
    assert len(predictions.read_text().splitlines()) == 2
    for shown in (out.stdout, swebench("report", "--no-input").stdout):
        assert "not asked for (--generate-only)" in shown and str(predictions) in shown
        assert "Evaluated" not in shown and "Resolved" not in shown and "Harness report" not in shown


def test_changed_model_regenerates_only_generation(dataset, openai_server):
    assert swebench(*BASE).returncode == 0
    other = list(BASE)
    other[other.index("gpt-4o-mini")] = "gpt-4o"
    out = swebench(*other)
    assert out.returncode == 0, out.stderr
    executed = json.loads(out.stdout)["tasks"]["executed"]
    assert {t.split(":")[0] for t in executed} == {"generate", "predictions", "report"}
    assert chats(openai_server) == 8
    assert "dataset" not in executed


def test_count_and_instance_ids_select(dataset, openai_server):
    out = swebench(*BASE, "--count", "2")
    assert json.loads(out.stdout)["selected"] == 2
    out = swebench(*BASE, "--count", "2", "--instance-ids", "acme__calc-4")
    summary = json.loads(out.stdout)
    assert summary["selected"] == 1
    assert chats(openai_server) == 3  # calc-1, calc-2, then calc-4


def test_reply_without_diff_is_that_instances_error(dataset, openai_server):
    openai_server.on_chat = lambda body: "I am not sure how to fix this."
    out = swebench(*BASE, "--count", "1")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["error_ids"] == ["acme__calc-1"] and summary["generated"] == 0
    assert "no usable diff" in summary["error_reasons"]["acme__calc-1"]
    assert Path(summary["predictions_path"]).read_text() == ""


# OpenAI's answer to a prompt over the context window (its documented error shape).
TOO_LONG = {"error": {"message": "This model's maximum context length is 128000 tokens. However, your messages "
                                 "resulted in 131072 tokens. Please reduce the length of the messages.",
                      "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}


def test_a_prompt_refused_for_its_length_fails_alone_and_rerun_failed_retries_it(dataset, openai_server):
    """calc-2's prompt is refused (400, context length): calc-1 and calc-3 still get patches,
    calc-2 is recorded with its reason, and `--rerun-failed` asks again for calc-2 only."""
    refuse = {"on": True}
    openai_server.on_chat = lambda body: (Failure(400, body=TOO_LONG)
                                          if refuse["on"] and "case 2" in json.dumps(body) else DIFF)
    out = swebench(*BASE, "--count", "3", "--max-workers", "1")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert (summary["generated"], summary["errors"], summary["error_ids"]) == (2, 1, ["acme__calc-2"])
    reason = summary["error_reasons"]["acme__calc-2"]
    assert "context window" in reason and "maximum context length is 128000" in reason
    assert chats(openai_server) == 3  # the batch went on after the refusal
    assert (Path(summary["results_dir"]) / "acme__calc-2" / "error.txt").read_text().strip() == reason
    assert Path(summary["predictions_path"]) == Path.cwd() / "results" / summary["run_id"] / "predictions.jsonl"
    predicted = [json.loads(line)["instance_id"] for line in Path(summary["predictions_path"]).read_text().splitlines()]
    assert predicted == ["acme__calc-1", "acme__calc-3"]

    again = swebench(*BASE, "--count", "3")  # a plain rerun does not pay for the refused prompt again
    assert again.returncode == 0 and chats(openai_server) == 3

    refuse["on"] = False
    rerun = swebench(*BASE, "--count", "3", "--rerun-failed")
    assert rerun.returncode == 0, rerun.stderr
    fixed = json.loads(rerun.stdout)
    assert chats(openai_server) == 4  # calc-2 only
    assert [t for t in fixed["tasks"]["executed"] if t.startswith("generate:")] == ["generate:acme__calc-2"]
    assert (fixed["generated"], fixed["errors"], fixed["error_ids"]) == (3, 0, [])


@pytest.mark.parametrize("status, body, message", [
    (401, None, "refused the key"),
    (429, {"error": {"message": "You exceeded your current quota", "type": "insufficient_quota",
                     "code": "insufficient_quota"}}, "quota exhausted"),
    (404, None, "failed (404)"),  # the model is unknown
    (400, {"error": {"message": "max_tokens is too large", "type": "invalid_request_error"}}, "failed (400)"),
])
def test_a_failure_that_would_hit_every_instance_stops_the_run_at_once(dataset, openai_server, status, body,
                                                                       message):
    openai_server.fail(status, path="/chat/completions", body=body)
    out = swebench(*BASE, "--max-workers", "1")
    assert out.returncode == 3, out.stderr
    assert chats(openai_server) == 1  # nothing after the first refusal
    lines = error_lines(out.stderr)
    assert len(lines) == 1 and message in lines[0], out.stderr
    assert out.stdout == "" or "error" in json.loads(out.stdout)
    assert not list(Path("results").glob("*/summary.json"))


def test_401_stops_with_exit_3_and_never_echoes_the_key(dataset, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-123456")
    out = swebench(*BASE)
    assert out.returncode == 3, out.stderr
    assert len(error_lines(out.stderr)) == 1
    assert "sk-wrong-key-123456" not in out.stderr + out.stdout
    assert openai_server.requests and chats(openai_server) == 0  # the catalog fetch is refused first


def test_429_waits_as_retry_after_says(dataset, openai_server):
    openai_server.fail(429, times=1, retry_after="1", path="/v1/chat/completions")
    started = time.monotonic()
    out = swebench(*BASE, "--count", "1")
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - started >= 1.0
    assert "waiting 1s" in out.stderr
    assert json.loads(out.stdout)["generated"] == 1


def test_a_rate_limited_catalog_fetch_shows_its_wait(dataset, openai_server):
    openai_server.fail(429, times=1, retry_after="0", path="/v1/models")
    out = swebench(*BASE, "--count", "1")
    assert out.returncode == 0, out.stderr
    assert "catalog waiting 0s: openai rate limit (429)" in out.stderr


def test_kill_9_mid_generation_loses_no_patch(dataset, openai_server):
    write_dataset(Path("data.jsonl"), n=8)
    openai_server.delay = 0.4
    proc = subprocess.Popen([sys.executable, "-m", "swebench_tasks", *BASE, "--max-workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    records = Path(".swebench/generations/openai__gpt-4o-mini")
    deadline = time.monotonic() + 60
    while len(list(records.glob("*.json"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = {p.name for p in records.glob("*.json")}
    asked_before = chats(openai_server)
    assert 3 <= len(done_before) < 8
    for path in records.glob("*.json"):  # every record on disk is whole
        json.loads(path.read_text())
    openai_server.delay = 0
    out = swebench(*BASE)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["generated"] == 8
    regenerated = {t.split(":", 1)[1] + ".json" for t in summary["tasks"]["executed"] if t.startswith("generate:")}
    assert not regenerated & done_before
    assert chats(openai_server) - asked_before <= 8 - len(done_before) + 2  # in-flight ones at the kill
    for line in Path(summary["predictions_path"]).read_text().splitlines():
        json.loads(line)


def test_second_run_in_same_directory_is_refused(dataset, openai_server):
    openai_server.delay = 1.0
    first = subprocess.Popen([sys.executable, "-m", "swebench_tasks", *BASE, "--max-workers", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while chats(openai_server) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        second = swebench(*BASE)
        assert second.returncode == 2
        assert "another swebench run is in progress" in second.stderr
    finally:
        first.kill()
        first.wait()


@pytest.mark.parametrize("args, message", [
    (("--instance-ids", "nope__nope-1"), "unknown instance id"),
    (("--provider", "nosuch"), "unknown provider"),
    (("--max-workers", "0"), "must be positive"),
])
def test_bad_selection_is_one_line_exit_2(dataset, args, message):
    out = swebench(*BASE, *args)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr
    assert len(error_lines(out.stderr)) == 1
    assert "Traceback" not in out.stderr


def test_malformed_dataset_row_is_exit_2(workspace):
    Path("bad.jsonl").write_text('{"instance_id": "x__y-1"}\n')
    out = swebench("run", "--no-input", "--model", "gold", "-d", "bad.jsonl", "--generate-only")
    assert out.returncode == 2
    assert "lacks problem_statement" in out.stderr


def test_unreadable_env_file_is_exit_2(workspace):
    Path(".env").write_bytes(b"\xff\xfe\x00broken")
    out = swebench("run", "--no-input", "--model", "gold", "--generate-only")
    assert out.returncode == 2
    assert ".env" in out.stderr and "Traceback" not in out.stderr


def test_no_key_and_no_keychain_says_how_to_export_it(dataset, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    out = swebench(*BASE, env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert out.returncode == 2, out.stderr
    lines = [ln for ln in error_lines(out.stderr) if not ln.startswith("swebench: warning")]
    assert len(lines) == 1 and "fix: export OPENAI_API_KEY=<your key>" in lines[0], out.stderr
    assert "secrets set" not in lines[0]  # it cannot store a key on this machine


def test_nothing_configured_is_exit_2(workspace):
    out = swebench("run", "--no-input")
    assert out.returncode == 2
    assert "swebench setup" in out.stderr


def test_gold_generate_only_needs_no_provider(workspace):
    write_dataset(Path("data.jsonl"), n=2)
    out = swebench("run", "--no-input", "--json", "--model", "gold", "-d", "data.jsonl", "--generate-only")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["model"] == "gold" and summary["generated"] == 2 and summary["provider"] is None


def test_saved_defaults_from_setup_are_used(dataset, openai_server):
    out = swebench("setup", "--no-input", "--provider", "openai", "--model", "gpt-4o-mini",
                   "-d", "data.jsonl", "--count", "1")
    assert out.returncode == 0, out.stderr
    assert dotenv_values(".env", interpolate=False)["SWEBENCH_MODEL"] == "gpt-4o-mini"
    out = swebench("run", "--no-input", "--json", "--context", "statement", "--generate-only")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["selected"] == 1


def test_a_first_run_in_a_terminal_draws_one_bar_per_phase(dataset, openai_server):
    """doit's worker threads all report the generate phase at once; the terminal, as a VT100
    emulator draws it, ends with exactly one `Generating patches` bar, complete."""
    import pyte

    from tests.support.providers import KEYS
    from tests.wizard_support import Terminal

    write_dataset(Path("data.jsonl"), n=12)
    openai_server.delay = 0.2
    term = Terminal(*[a for a in BASE if a not in ("--no-input", "--json")], "--max-workers", "4",
                    env={"OPENAI_API_KEY": KEYS["openai"]})
    assert term.exit_code() == 0, term.screen[-3000:]
    screen = pyte.Screen(160, 50)
    pyte.Stream(screen).feed(term.raw.getvalue())
    bars = [line.rstrip() for line in screen.display if "Generating patches" in line]
    assert len(bars) == 1 and "12/12" in bars[0], "\n".join(screen.display)
    assert chats(openai_server) == 12


def test_up_to_date_rerun_reads_each_record_once(dataset, openai_server, monkeypatch):
    """Linear work per task: an up-to-date rerun reads each generation record once (the run's
    stale check and doit's up-to-date check share it) and builds the id list once, not per task."""
    from swebench_tasks import run
    from swebench_tasks.stages import runcontext
    from swebench_tasks.ui import Ui

    write_dataset(Path("data.jsonl"), 30)
    assert swebench(*BASE).returncode == 0
    reads: list[Path] = []
    builds: list[int] = []
    real_check, real_ids = runcontext.is_current, runcontext.RunContext._selected_ids.func
    monkeypatch.setattr(runcontext, "is_current", lambda path, key: reads.append(path) or real_check(path, key))
    monkeypatch.setattr(runcontext.RunContext, "_selected_ids",
                        functools.cached_property(lambda self: builds.append(1) or real_ids(self)))
    runcontext.RunContext._selected_ids.__set_name__(runcontext.RunContext, "_selected_ids")
    flags = {"provider": "openai", "model": "gpt-4o-mini", "context": "statement", "generate_only": True,
             "dataset": "data.jsonl"}
    summary = run.execute(Ui(no_input=True, json=True), Path.cwd(), flags)
    assert summary["tasks"]["executed"] == [] and summary["selected"] == 30
    assert len(reads) == len(set(reads)) == 30
    assert builds == [1]


def test_graph_finds_the_stored_key_when_no_front_resolved_it(dataset, openai_server):
    """`swebench doit run` and `dodo.py` have no front that resolves the key: the graph finds
    the stored one itself (here the environment's), without prompting, as `swebench run` would."""
    from swebench_tasks.config import load_settings
    from swebench_tasks.providers import Message
    from swebench_tasks.stages.runcontext import RunContext

    graph = RunContext(load_settings(Path.cwd(), provider="openai", model="gpt-4o-mini", no_input=True))
    assert graph.key is None
    reply = graph.provider().chat("gpt-4o-mini", [Message("user", "fix it")])
    assert reply.text and chats(openai_server) == 1
    assert graph.key == os.environ["OPENAI_API_KEY"]
