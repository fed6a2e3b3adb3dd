"""`swebench report [RUN_ID]`: the summary of the last (or named) run."""

from __future__ import annotations

import json
from pathlib import Path

import click

from swebench_tasks.cli import global_options, ui_from
from swebench_tasks.errors import UsageError


def find_summary(results: Path, run_id: str | None) -> Path:
    if run_id:
        from swebench_tasks.files import is_safe_name

        path = results / run_id / "summary.json"
        if not is_safe_name(run_id) or not path.exists():
            raise UsageError(f"no run named {run_id!r} in {results}", fix="see `ls results/` for run ids")
        return path
    candidates = sorted(results.glob("*/summary.json"), key=lambda p: p.stat().st_mtime)
    if not candidates:
        raise UsageError("no run has finished in this directory yet", fix="run `swebench run` first")
    return candidates[-1]


@click.command("report")
@click.argument("run_id", required=False)
@global_options
@click.pass_context
def command(ctx: click.Context, run_id: str | None, no_input, json_mode) -> None:
    """Show the summary of the last run, or of RUN_ID."""
    ui = ui_from(ctx, no_input, json_mode)
    summary = json.loads(find_summary(Path.cwd() / "results", run_id).read_text())
    ui.summary(summary)
