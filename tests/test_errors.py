"""The error contract through the real CLI (docs/cli.md, "Exit codes"): one line on stderr naming the
fix, the contract's exit code, and with `--json` exactly one JSON object on stdout carrying the
error; SIGTERM unwinds like Ctrl+C; an unwritable working directory is a configuration error."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_lock import LiveRun
from tests.test_run import BASE, dataset, error_lines, swebench, write_dataset  # noqa: F401
from tests.test_run_docker import hub_dataset  # noqa: F401


def one_error_document(out: subprocess.CompletedProcess) -> dict:
    """stdout is exactly one JSON object whose error carries message, fix and the exit code."""
    document = json.loads(out.stdout)  # fails on nothing, on two documents, or on stray text
    error = document["error"]
    assert error["message"] and error["fix"], document
    assert error["exit_code"] == out.returncode, document
    assert len(error_lines(out.stderr)) == 1, out.stderr
    return error


@pytest.mark.parametrize("args, env, code, named", [
    (("run", "--json"), {}, 2, "no model configured"),
    (("report", "--json"), {}, 2, "no run has finished"),
    (("--json", "report", "nope"), {}, 2, "nope"),
    (("run", "--json", "--model", "gold", "-d", "data.jsonl", "--count", "-1"), {}, 2, "--count"),
    (("run", "--json", "--model", "gold", "-d", "data.jsonl", "--max-workers", "0"), {}, 2, "--max-workers"),
    (("run", "--json", "--model", "gold", "-d", "data.jsonl"), {"SWEBENCH_COUNT": "-3"}, 2, "SWEBENCH_COUNT"),
    (("run", "--json", "--count", "abc"), {}, 2, "--count"),
    (("run", "--json", "--model", "gold", "-d", "missing.jsonl"), {}, 2, "missing.jsonl"),
    (("run", "--json", "--instance-ids", "nope__nope-1", "--model", "gold", "-d", "data.jsonl",
      "--generate-only"), {}, 2, "nope__nope-1"),
    (("models", "nosuch", "--json"), {}, 2, "nosuch"),
    (("secrets", "get", "nosuch", "--json"), {}, 2, "nosuch"),
    (("clean", "--json", "--bogus"), {}, 2, "--bogus"),
    (("--json", "doit", "nosuchcmd"), {}, 2, "nosuchcmd"),
    (("run", "--json", "--model", "gold", "-d", "data.jsonl", "--generate-only", "--run-id", "a/b"), {}, 2,
     "a/b"),
])
def test_every_failure_with_json_prints_one_error_object(workspace, args, env, code, named):
    write_dataset(Path("data.jsonl"), n=2)
    out = swebench(*args, env=env)
    assert out.returncode == code, out.stderr
    error = one_error_document(out)
    assert named in error["message"] or named in error["fix"], error
    assert named in error_lines(out.stderr)[0]


def test_flags_are_named_as_flags_and_variables_as_variables(workspace):
    write_dataset(Path("data.jsonl"), n=2)
    flag = swebench("run", "--no-input", "--model", "gold", "-d", "data.jsonl", "--count", "-1")
    assert flag.returncode == 2 and "--count" in flag.stderr and "SWEBENCH_COUNT" not in flag.stderr
    Path(".env").write_text("SWEBENCH_MAX_WORKERS=lots\n")
    dotenv = swebench("run", "--no-input", "--model", "gold", "-d", "data.jsonl")
    assert dotenv.returncode == 2 and "SWEBENCH_MAX_WORKERS" in dotenv.stderr
    assert "--max-workers" not in error_lines(dotenv.stderr)[0].split("(fix:")[0]


def test_provider_failure_with_json_is_exit_3_in_one_object(dataset, openai_server, monkeypatch):  # noqa: F811
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-123456")
    out = swebench(*BASE)
    assert out.returncode == 3, out.stderr
    one_error_document(out)
    assert "sk-wrong-key-123456" not in out.stdout + out.stderr


def test_failing_preflight_with_json_prints_its_document_only_once(workspace):
    """Preflight's document carries its failure; the front must not add a second object."""
    write_dataset(Path("data.jsonl"), n=1)
    out = swebench("preflight", "--json", "--model", "gold", "-d", "data.jsonl",
                   env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert out.returncode != 0
    document = json.loads(out.stdout)
    assert document["ok"] is False and document["error"]["exit_code"] == out.returncode
    assert len(error_lines(out.stderr)) == 1


def test_unknown_doit_subcommand_is_exit_2_in_one_line(workspace):
    out = swebench("doit", "nosuchcmd")
    assert out.returncode == 2
    lines = error_lines(out.stderr)
    assert len(lines) == 1 and "nosuchcmd" in lines[0] and "swebench doit list" in lines[0]
    assert out.stderr.strip() == lines[0]


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_unwinds_like_ctrl_c(dataset, openai_server, sig, code):  # noqa: F811
    """A real run blocked on the model: the signal gives one line, the JSON error, the lock back."""
    run = LiveRun(openai_server)
    run.proc.send_signal(sig)
    out, err = run.proc.communicate(timeout=120)
    run.release.set()
    assert run.proc.returncode == code, err
    lines = error_lines(err)
    assert len(lines) == 1 and lines[0].startswith("swebench: interrupted"), err
    assert ("SIGTERM" in lines[0]) == (sig == signal.SIGTERM)
    assert json.loads(out)["error"]["exit_code"] == code
    assert "Traceback" not in err
    assert not list(Path(".swebench").rglob("*.tmp*"))
    again = swebench(*BASE)  # the lock went with it, and so did nothing else
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["generated"] == 4


def read_only(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """`swebench ARGS` with `workdir` mounted read-only (a private mount namespace; root or not)."""
    script = 'mount --bind -o ro "$0" "$0" && cd "$0" && exec "$@"'
    return subprocess.run(["unshare", "--map-root-user", "--mount", "sh", "-c", script, str(workdir),
                           sys.executable, "-m", "swebench_tasks", *args],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux)")
@pytest.mark.parametrize("args", [
    ("run", "--no-input", "--json", "--model", "gold", "-d", "data.jsonl", "--generate-only"),
    ("setup", "--no-input", "--json", "--provider", "openai", "--model", "gpt-4o-mini"),
    ("clean", "--runs", "--json"),
])
def test_unwritable_working_directory_is_exit_2_naming_it(workspace, args):
    write_dataset(Path("data.jsonl"), n=1)
    if subprocess.run(["unshare", "--map-root-user", "--mount", "true"]).returncode != 0:
        pytest.skip("user and mount namespaces are not available here")
    out = read_only(workspace, *args)
    assert out.returncode == 2, out.stderr
    error = one_error_document(out)
    assert str(workspace) in error["message"] and "unexpected" not in out.stderr
    assert sorted(p.name for p in workspace.iterdir()) == ["data.jsonl"]


@pytest.mark.docker
def test_sigterm_stops_the_harness_child(hub_dataset, tmp_path):  # noqa: F811
    """The harness runs in a doit worker thread, which never sees the signal: the front stops it.
    The fake passes the version probe (`-c`) and `--help` to the real interpreter."""
    pid_file = tmp_path / "harness.pid"
    fake = tmp_path / "python-harness"
    fake.write_text(f"#!/bin/sh\ncase \"$*\" in *--help*|-c*) exec {sys.executable} \"$@\";; esac\n"
                    f"echo $$ > {pid_file}\nexec sleep 600\n")
    fake.chmod(0o755)
    proc = subprocess.Popen([sys.executable, "-m", "swebench_tasks", "run", "--no-input", "--json", "--no-preflight",
                             "--model", "gold", "-d", str(hub_dataset)],
                            env={**os.environ, "SWEBENCH_HARNESS_PYTHON": str(fake)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        while not pid_file.exists() or not pid_file.read_text().strip():
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        harness = int(pid_file.read_text())
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert json.loads(out)["error"]["exit_code"] == 143
    assert not Path(f"/proc/{harness}").exists()  # stopped and reaped, not left to run on
    assert swebench("clean", "--runs").returncode == 0  # and the lock is free
