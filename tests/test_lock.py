"""One run at a time per working directory, through the real CLI: while a run holds the
directory (blocked on the OpenAI-protocol server), every command that would change its state
is refused with exit 2 naming the live run's pid, and nothing is deleted under it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.test_run import BASE, DIFF, chats, dataset, error_lines, swebench  # noqa: F401


def snapshot() -> dict[str, int]:
    """Every file under the working directory, with its size (what `clean` would delete)."""
    return {str(p): p.stat().st_size for p in Path(".").rglob("*") if p.is_file() and p.name != "run.lock"}


class LiveRun:
    """A `swebench run` holding the working directory while the model server blocks its call."""

    def __init__(self, server) -> None:
        self.release = threading.Event()
        server.on_chat = self.blocked
        self.proc = subprocess.Popen([sys.executable, "-m", "swebench_tasks", *BASE, "--max-workers", "1"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     text=True)
        while chats(server) == 0:  # the run holds the lock before it asks the model
            assert self.proc.poll() is None, self.proc.communicate()
            time.sleep(0.05)

    def blocked(self, body: dict) -> str:
        self.release.wait()
        return DIFF

    def finish(self) -> subprocess.CompletedProcess:
        self.release.set()
        out, err = self.proc.communicate(timeout=300)
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, out, err)


@pytest.fixture
def live_run(dataset, openai_server) -> Iterator[LiveRun]:  # noqa: F811
    run = LiveRun(openai_server)
    try:
        yield run
    finally:
        run.release.set()
        if run.proc.returncode is None:
            run.proc.kill()
            run.proc.communicate()


WRITERS = [
    ("run", *BASE[1:]),
    ("preflight", "--no-input", "--model", "gold", "-d", "data.jsonl"),
    ("clean", "--runs"),
    ("clean", "--catalog"),
    ("clean", "--images"),
    ("clean", "--all"),
    ("setup", "--no-input", "--provider", "openai", "--model", "gpt-4o"),
    ("doit",),
    ("doit", "run"),
    ("doit", "report"),
    ("doit", "forget"),
    ("doit", "clean"),
    ("doit", "ignore", "report"),
    ("doit", "reset-dep"),
    ("doit", "strace", "report"),
]


def test_every_writer_is_refused_with_the_live_runs_pid_and_nothing_changes(live_run):
    Path(".env").write_text("SWEBENCH_MODEL=gpt-4o-mini\n")
    before = snapshot()
    pid = live_run.proc.pid
    for args in WRITERS:
        out = swebench(*args)
        assert out.returncode == 2, (args, out.stderr)
        lines = error_lines(out.stderr)
        assert len(lines) == 1 and "another swebench run is in progress" in lines[0], (args, out.stderr)
        assert f"pid {pid}" in lines[0], (args, lines)
    refused = swebench("clean", "--runs", "--json")
    assert refused.returncode == 2
    assert json.loads(refused.stdout)["error"]["exit_code"] == 2 and f"pid {pid}" in refused.stdout
    assert snapshot() == before  # clean deleted nothing, setup wrote nothing
    assert Path(".env").read_text() == "SWEBENCH_MODEL=gpt-4o-mini\n"

    finished = live_run.finish()  # the live run was never disturbed
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout)["generated"] == 4


def test_readers_and_a_dry_run_still_work_during_a_run(live_run):
    before = snapshot()
    for args in [("doit", "list"), ("doit", "help"), ("clean", "--all", "--dry-run"),
                 ("report", "--help")]:
        out = swebench(*args)
        assert out.returncode == 0, (args, out.stderr)
    info = swebench("doit", "info", "dataset")  # exit 1 says "not up to date" (this graph is the saved one)
    assert info.returncode in (0, 1) and "status" in info.stdout, info.stderr
    dry = json.loads(swebench("clean", "--runs", "--dry-run", "--json").stdout)
    assert dry["dry_run"] is True and any(p.endswith("doit.sqlite3") for p in dry["paths"])
    assert snapshot() == before
    assert live_run.finish().returncode == 0


def test_the_lock_dies_with_a_killed_run(live_run):
    """kill -9: the kernel drops the lock with its holder; nothing waits on a stale lock."""
    live_run.proc.send_signal(signal.SIGKILL)
    live_run.proc.wait()
    assert Path(".swebench/run.lock").read_text().strip() == str(live_run.proc.pid)  # left behind...
    out = swebench("clean", "--runs")  # ...and not in the way
    assert out.returncode == 0, out.stderr
    assert not Path(".swebench/generations").exists() and Path(".swebench/run.lock").exists()


def test_a_process_holding_the_lock_is_named(dataset):  # noqa: F811
    """The lock is the one filelock takes: any process holding it keeps writers out."""
    code = ("import sys\nfrom pathlib import Path\nfrom swebench_tasks import files\n"
            "from swebench_tasks.config import Paths\n"
            "with files.hold(Paths(Path.cwd())):\n    print('held', flush=True)\n    sys.stdin.read()\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        out = swebench("run", "--no-input", "--model", "gold", "-d", "data.jsonl", "--generate-only")
        assert out.returncode == 2 and f"pid {holder.pid}" in out.stderr
    finally:
        holder.stdin.close()
        holder.wait()
    out = swebench("run", "--no-input", "--model", "gold", "-d", "data.jsonl", "--generate-only")
    assert out.returncode == 0, out.stderr
