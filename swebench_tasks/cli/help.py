"""`swebench help`: the Help & Docs pane."""

from __future__ import annotations

import click

from swebench_tasks.cli import global_options, ui_from
from swebench_tasks.helptext import HELP_TEXT


@click.command("help")
@global_options
@click.pass_context
def command(ctx, no_input, json_mode) -> None:
    """Common commands and troubleshooting."""
    ui = ui_from(ctx, no_input, json_mode)
    if ui.json:
        ui.emit({"help": HELP_TEXT})
    else:
        ui.print(HELP_TEXT, markup=False)
