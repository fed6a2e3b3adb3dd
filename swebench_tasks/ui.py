"""Output modes: a rich TTY, stable plain lines for CI (`--no-input`), one JSON document.

In `--json` mode stdout carries exactly one JSON document; everything else goes to stderr.
With `--no-input` (or no TTY) output carries no ANSI codes and no prompts are shown.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.progress import TaskID

_emitted = False  # whether this process has written its JSON document


def emitted() -> bool:
    """Whether the JSON document went out (a failure after it must not print a second one)."""
    return _emitted


def env_no_input() -> bool:
    return os.environ.get("SWEBENCH_NO_INPUT", "").strip().lower() in {"1", "true", "yes", "on"}


def dotenv_no_color() -> bool:
    """NO_COLOR from `.env` (the environment's NO_COLOR rich honours by itself)."""
    from pathlib import Path

    if not Path(".env").exists():
        return False
    from swebench_tasks.config import read_dotenv

    return bool(read_dotenv(Path(".env")).get("NO_COLOR"))


def printable(text: str) -> str:
    """`text` with control characters shown as escapes: ids and names from a dataset or a
    catalog must never move the cursor or recolour the terminal (an ESC sequence in an id)."""
    return text if text.isprintable() else "".join(c if c.isprintable() or c == "\t" else repr(c)[1:-1] for c in text)


def waiting(seconds: float, reason: str) -> str:
    """How a provider wait (a 429's Retry-After, a backoff) is shown, in every command."""
    return f"waiting {seconds:.0f}s: {reason}"


@dataclass
class Ui:
    """How this invocation talks to its user."""

    no_input: bool = False
    json: bool = False
    # Decisions only a person makes, answered by the front (cli/, wizard/) when one is at the
    # terminal. None: the core takes the non-interactive path (it says the command, or fails
    # with the fix), exactly as under --no-input.
    confirm: Callable[[str], bool] | None = field(default=None, repr=False)  # a yes/no question
    ask_secret: Callable[[str], str] | None = field(default=None, repr=False)  # hidden input
    login: Callable[[str], bool] | None = field(default=None, repr=False)  # `docker login HOST`: True if done

    @classmethod
    def detect(cls, no_input: bool = False, json_mode: bool = False) -> Ui:
        interactive = sys.stdin.isatty() and not no_input and not env_no_input()
        return cls(no_input=not interactive, json=json_mode)

    @property
    def interactive(self) -> bool:
        return not self.no_input

    @cached_property
    def console(self):
        """Human output: stdout normally, stderr when stdout is reserved for JSON."""
        return self._make(sys.stderr if self.json else sys.stdout)

    @cached_property
    def err(self):
        return self._make(sys.stderr)

    def _make(self, stream):
        from rich.console import Console

        if self.no_input:
            return Console(
                file=stream,
                color_system=None,
                force_terminal=False,
                highlight=False,
                emoji=False,
                soft_wrap=True,
                width=200,
            )
        return Console(file=stream, highlight=False, no_color=dotenv_no_color() or None)

    def print(self, *args: Any, **kwargs: Any) -> None:
        self.console.print(*args, **kwargs)

    def line(self, text: str) -> None:
        """One stable progress line (stderr), for logs and CI."""
        self.err.print(printable(text), markup=False)

    def wait_line(self, seconds: float, reason: str) -> None:
        """A provider wait, said as it starts (on stderr): a silent wait looks like a hang."""
        self.line(waiting(seconds, reason))

    def emit(self, document: Any) -> None:
        """The single JSON document of a `--json` invocation."""
        global _emitted
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
        sys.stdout.flush()
        _emitted = True

    def summary(self, summary: dict) -> None:
        """A run's summary: the JSON document under --json, else the table and each error's reason."""
        if self.json:
            self.emit(summary)
            return
        from rich.table import Table
        from rich.text import Text

        table = Table(title=Text(f"EVALUATION SUMMARY  {printable(summary['run_id'])}"), show_header=False, box=None)
        table.add_column(style="bold")
        table.add_column()
        cost = summary.get("cost_usd")
        evaluated = summary.get("evaluation") != "skipped"
        verdicts = (
            [
                ("Evaluated", summary["evaluated"]),
                ("Resolved", summary["resolved"]),
                ("Unresolved", summary["unresolved"]),
            ]
            if evaluated
            else [("Evaluation", "not asked for (--generate-only)")]
        )
        rows = [
            ("Model", f"{summary.get('provider') or '-'} / {summary['model']}"),
            ("Dataset", summary["dataset"]),
            ("Selected", summary["selected"]),
            ("Generated", summary["generated"]),
            ("Applied", "-" if summary.get("applied") is None else summary["applied"]),
            *verdicts,
            ("Errors", summary["errors"]),
            ("Empty patches", summary["empty_patches"]),
            ("Tokens", f"{summary['tokens']['input']} in / {summary['tokens']['output']} out"),
            ("Cost", "unknown" if cost is None else f"${cost:.4f}"),
            ("Results", summary["results_dir"]),
            ("Predictions", summary.get("predictions_path") or "-"),
            *([("Harness report", summary.get("report_path") or "-")] if evaluated else []),
        ]
        if summary.get("agent") not in (None, "none"):
            statuses: dict[str, int] = {}
            for outcome in summary.get("instances", {}).values():
                statuses[outcome["exit_status"]] = statuses.get(outcome["exit_status"], 0) + 1
            rows[1:1] = [
                ("Agent", f"{summary['agent']} ({', '.join(summary.get('protocols', [])) or '-'})"),
                (
                    "Agent steps",
                    f"{summary.get('steps', 0)} ({', '.join(f'{k} {v}' for k, v in sorted(statuses.items())) or '-'})",
                ),
            ]
        for name, value in rows:  # values carry names from data: plain text, never markup
            table.add_row(name, Text(printable(str(value))))
        self.print(table)
        reasons = summary.get("error_reasons") or {}
        for iid in summary["error_ids"]:
            reason = reasons.get(iid, "see " + summary["results_dir"] + "/" + iid)
            self.print(printable(f"Error in {iid}: {reason}"), markup=False)

    def preflight(self, document: dict) -> None:
        """A preflight's document under --json; else the steps that were cached (the ones that
        ran printed their lines as they went) and whether it passed."""
        if self.json:
            self.emit(document)
            return
        from swebench_tasks.checks import Check

        cached = set(document["tasks"]["up_to_date"])
        if "preflight:system" in cached:
            self.print("System checks (unchanged since they passed):", markup=False)
            for c in document["checks"]:
                self.print(f"  {Check(c['name'], c['ok'], c['detail'], c['fix'], c['required']).line()}", markup=False)
        for step, key in (("key", "provider"), ("image", "image"), ("smoke", "instance_id")):
            if f"preflight:{step}" in cached:
                self.print(f"✔ {step}: {(document[step] or {}).get(key, '')} (cached)", markup=False)
        if document["ok"]:
            self.print("Preflight passed.", markup=False)

    def clear(self) -> None:
        """Clear the screen only when asked to (SWEBENCH_TUI_CLEAR=1) and interactive."""
        if self.interactive and os.environ.get("SWEBENCH_TUI_CLEAR") == "1":
            self.console.clear()


class RunProgress:
    """Progress of a run: rich bars with counts and ETA in a TTY, one line per step otherwise.

    Stages ("generate", "evaluate", ...) are bars; `wait` shows a rate-limit or backoff
    wait inline on the bar that is waiting. doit's worker threads report concurrently, so
    each update holds a lock: two threads declaring a stage at once still make one bar.
    """

    def __init__(self, ui: Ui):
        self.ui = ui
        self._lock = threading.RLock()
        self._bars: dict[str, TaskID] = {}
        self._counts: dict[str, tuple[int, int]] = {}
        self._labels: dict[str, str] = {}
        self._progress = None
        if ui.interactive and not ui.json:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=ui.console,
                transient=False,
            )

    def __enter__(self) -> RunProgress:
        if self._progress:
            self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress:
            self._progress.stop()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Hide the live bars while a question is asked on the terminal."""
        if self._progress is None:
            yield
            return
        self._progress.stop()
        try:
            yield
        finally:
            self._progress.start()

    def stage(self, name: str, total: int, label: str) -> None:
        """Declare a stage; calling again only updates its total."""
        with self._lock:
            done = self._counts.get(name, (0, 0))[0]
            self._counts[name] = (done, total)
            self._labels[name] = label
            if self._progress is None:
                return
            if name in self._bars:
                self._progress.update(self._bars[name], total=total)
            else:
                self._bars[name] = self._progress.add_task(label, total=total, completed=done)

    def advance(self, name: str, item: str, note: str = "", quiet: bool = False) -> None:
        """One more done; `quiet` moves the bar but prints no line (an up-to-date task)."""
        with self._lock:  # reentrant: the count read and its update are one step
            done, total = self._counts.get(name, (0, 0))
            if quiet and self._progress is None:
                self._counts[name] = (done + 1, max(total, done + 1))
                return
            self.set(name, done + 1, item, note)

    def set(self, name: str, done: int, item: str = "", note: str = "") -> None:
        with self._lock:
            old, total = self._counts.get(name, (0, 0))
            self._counts[name] = (done, max(total, done))
            if self._progress is not None and name in self._bars:
                self._progress.update(self._bars[name], completed=done, description=self._labels[name])
            elif done != old or note:
                suffix = f" {item}" if item else ""
                self.ui.line(f"{name} {done}/{max(total, done)}{suffix}{f' ({note})' if note else ''}")

    def wait(self, name: str, seconds: float, reason: str) -> None:
        """An inline wait: the bar's label says why and for how long."""
        text = waiting(seconds, reason)
        with self._lock:
            if self._progress is not None and name in self._bars:
                self._progress.update(self._bars[name], description=f"{self._labels[name]} [yellow]{text}[/]")
                return
        self.note(f"{name} {text}")

    def note(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text)
        else:
            self.ui.line(text)

    def item(self, text: str) -> None:
        """A line about one item that carries outside data (a command): printed without markup."""
        if self._progress is not None:
            self._progress.console.print(printable(text), markup=False, highlight=False)
        else:
            self.ui.line(text)
