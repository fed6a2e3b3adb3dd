"""Driving the real `swebench` wizard in a pseudo-terminal (pexpect), as a person would.

Each prompt is waited for before anything is typed (HARNESS-NOTES.md: prompt_toolkit reads
keys only once its prompt is drawn; PROMPT_TOOLKIT_NO_CPR=1 stops it waiting for a cursor
report). Everything the program draws is kept, so a test can check what was on screen.
"""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path

import pexpect
import pytest

ENTER, ESC, CTRL_C = "\r", "\x1b", "\x03"
UP, DOWN = "\x1b[A", "\x1b[B"
HANG_GUARD = float(os.environ.get("WIZARD_HANG_GUARD", "600"))  # seconds before a wait is declared hung (not a speed limit)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()=>][0-9A-Za-z]?")


class Terminal:
    """`python -m swebench_tasks ARGS` in a 50x160 pty."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
        full = {**{k: v for k, v in os.environ.items() if k not in ("SWEBENCH_TUI_CLEAR", "SWEBENCH_NO_INPUT")},
                "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm", **(env or {})}
        self.raw = io.StringIO()
        self.seen = 0  # how far into the screen the last wait matched
        self.child = pexpect.spawn(sys.executable, ["-m", "swebench_tasks", *args], env=full,
                                   cwd=str(cwd or Path.cwd()), dimensions=(50, 160), encoding="utf-8",
                                   timeout=HANG_GUARD)
        self.child.logfile_read = self.raw

    @property
    def screen(self) -> str:
        """Everything drawn so far, without escape sequences."""
        return _ANSI.sub("", self.raw.getvalue()).replace("\r", "")

    def wait(self, text: str) -> None:
        """Wait until `text` is drawn after what the last wait found (colours and cursor moves
        are ignored); fails with the screen if the program ends first."""
        while True:
            found = self.screen.find(text, self.seen)
            if found >= 0:
                self.seen = found + len(text)
                return
            try:
                self.child.read_nonblocking(65536, timeout=HANG_GUARD)
            except (pexpect.EOF, pexpect.TIMEOUT) as exc:
                raise AssertionError(f"never saw {text!r}; screen:\n{self.screen[-6000:]}") from exc

    def answer(self, prompt: str, *keys: str) -> None:
        """Wait for a prompt, then press the keys."""
        self.wait(prompt)
        self.press(*keys)

    def press(self, *keys: str) -> None:
        """Press keys now (after a wait for what comes last on screen)."""
        for key in keys:
            self.child.send(key)

    def exit_code(self) -> int:
        """Wait for the program to end; its exit status."""
        self.child.expect(pexpect.EOF)
        self.child.close()
        return self.child.exitstatus if self.child.exitstatus is not None else 128 + self.child.signalstatus


def erase(n: int = 8) -> str:
    """Backspaces that clear a prefilled answer."""
    return "\x7f" * n


def dotenv(path: Path = Path(".env")) -> dict[str, str]:
    """The `.env` the tool wrote, as a dict (read as python-dotenv reads it, quotes removed)."""
    from dotenv import dotenv_values

    return dict(dotenv_values(path, interpolate=False)) if path.exists() else {}


def save_openai_defaults(dataset: Path, count: int) -> None:
    """`swebench setup --no-input` for OpenAI's gpt-4o-mini on `dataset`: what Quick Run then uses."""
    import subprocess

    setup = subprocess.run([sys.executable, "-m", "swebench_tasks", "setup", "--no-input", "--provider", "openai",
                            "--model", "gpt-4o-mini", "-d", str(dataset), "--count", str(count)],
                           capture_output=True, text=True)
    assert setup.returncode == 0, setup.stderr


@pytest.fixture
def hub_dataset(workspace, instance_dataset, docker_engine):
    """Two instances served under their Docker Hub names; the images pulled are removed after."""
    path = instance_dataset.write(Path("instances.jsonl"), instance_dataset.hub_ids[:2])
    yield path
    docker_engine.remove_images(*(instance_dataset.row(i)["image"] for i in instance_dataset.ids))
