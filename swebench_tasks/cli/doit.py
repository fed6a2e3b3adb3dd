"""`swebench doit ARGS...`: doit's own command line on the same task graph, from any directory."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import click

from swebench_tasks.errors import SwebenchError, UsageError

# doit's commands that only read its state; every other command (run, clean, forget, ignore,
# reset-dep, strace) or a bare task name runs or changes the graph, so it takes the lock.
READ_ONLY = ("list", "info", "help", "dumpdb", "tabcompletion", "--help", "--version")


def changes_state(args: list[str]) -> bool:
    """As doit parses it: `name=value` words are variables; no command means `run`."""
    words = [a for a in args if a.startswith("-") or "=" not in a]
    return not words or words[0] not in READ_ONLY


@click.command(
    "doit", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False, "help_option_names": []}
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(args: tuple[str, ...]) -> None:
    """Run doit (list, info, forget, run, preflight, ...) on this directory's task graph."""
    from swebench_tasks import files
    from swebench_tasks.config import load_settings
    from swebench_tasks.stages.graph import run_graph
    from swebench_tasks.stages.runcontext import RunContext

    ctx = RunContext(load_settings(Path.cwd(), no_input=True))
    errors = io.StringIO()  # doit's own messages, shown unless they become our one line
    with files.hold(ctx.paths) if changes_state(list(args)) else contextlib.nullcontext():
        with contextlib.redirect_stderr(errors):
            rc, _ = run_graph(ctx, list(args), reporter=False)
    said = errors.getvalue()
    if ctx.failure is not None:
        sys.stderr.write(said)
        raise ctx.failure
    if rc == 3:  # doit stopped before running anything: a bad command line, or its own crash
        lines = [ln.strip() for ln in said.splitlines() if ln.strip()] or ["invalid command line"]
        if "Traceback" in said:
            raise SwebenchError(f"doit failed: {lines[-1]}", fix="see `swebench doit help`")
        reason = next((ln for ln in lines if ln.startswith("ERROR:")), lines[-1])
        reason = reason.removeprefix("ERROR:").split(" (parsing options")[0].strip()
        raise UsageError(
            f"doit: {reason}", fix="see `swebench doit help` for commands and `swebench doit list` for tasks"
        )
    sys.stderr.write(said)
    sys.exit(rc)  # doit's own codes: 1 a task failed (or, for `info`, is not up to date)
