"""`swebench preflight`: system checks, key, one image pull, one-instance smoke, as doit tasks."""

from __future__ import annotations

from pathlib import Path

import click

from swebench_tasks.cli import global_options, ui_from
from swebench_tasks.cli.run import agent_option, selection_flags, selection_options


@click.command("preflight")
@selection_options
@agent_option
@global_options
@click.pass_context
def command(ctx: click.Context, no_input, json_mode, **kwargs) -> None:
    """Check Python, the harness, Docker, disk and network; validate the key; pull the first
    instance's image; evaluate its gold patch. Each step reruns only when what it checked changed."""
    from swebench_tasks.usecases import preflight

    ui = ui_from(ctx, no_input, json_mode)
    document, failure = preflight(ui, Path.cwd(), selection_flags(kwargs))
    ui.preflight(document)
    if failure is not None:
        raise failure
