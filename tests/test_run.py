"""`swebench run` end to end through the real CLI, against the OpenAI-protocol server.

These runs stop before evaluation (`--generate-only`) or feed the gold patches, so
they need no Docker engine; tests/test_run_docker.py evaluates with the real harness.
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
from dotenv import dotenv_values

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
    lines = Path(".swebench/runs", summary["run_id"], "predictions.jsonl").read_text().splitlines()
    assert {"+    return a + b" in json.loads(line)["model_patch"] for line in lines} == {True}

    second = swebench(*BASE)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert chats(openai_server) == 4  # nothing new was asked
    assert again["tasks"]["executed"] == []
    assert "generate:acme__calc-1" in again["tasks"]["up_to_date"]


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


def test_reply_without_diff_is_an_empty_patch(dataset, openai_server):
    openai_server.on_chat = lambda body: "I am not sure how to fix this."
    out = swebench(*BASE, "--count", "1")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["empty_patches"] == 1


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
    for line in Path(".swebench/runs", summary["run_id"], "predictions.jsonl").read_text().splitlines():
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
