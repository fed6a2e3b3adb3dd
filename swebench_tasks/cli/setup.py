"""`swebench setup`: the guided wizard, or with `--no-input` the same config from flags."""

from __future__ import annotations

from pathlib import Path

import click

from swebench_tasks.cli import global_options, ui_from
from swebench_tasks.cli.run import agent_option
from swebench_tasks.errors import UsageError
from swebench_tasks.providers import NAMES


@click.command("setup")
@click.option("--provider", default=None, help=f"{', '.join(NAMES)}.")
@click.option("--model", default=None, help="Model id.")
@click.option("-d", "--dataset", default=None, help="lite, verified, full, a HF id or a local file.")
@click.option("--count", type=int, default=None, help="How many instances a run takes (0: all).")
@agent_option
@global_options
@click.pass_context
def command(ctx, provider, model, dataset, count, agent, no_input, json_mode) -> None:
    """Connect a model, pick a dataset and sample size, preflight, run.

    In a terminal this is the guided wizard. With --no-input it writes the same
    configuration from --provider, --model, --dataset, --count and --agent, without prompts.
    """
    ui = ui_from(ctx, no_input, json_mode)
    if ui.no_input:
        if not (provider and model):
            raise UsageError(
                "setup without prompts needs --provider and --model",
                fix="swebench setup --no-input --provider openai --model gpt-4o-mini",
            )
        from swebench_tasks.usecases import write_config

        saved = write_config(Path.cwd(), provider=provider, model=model, dataset=dataset, count=count, agent=agent)
        if ui.json:
            ui.emit({"saved": saved, "env_file": str(Path.cwd() / ".env")})
        else:
            ui.print(
                f"Saved defaults to {Path.cwd() / '.env'}: " + ", ".join(f"{k}={v}" for k, v in saved.items()),
                markup=False,
            )
        return
    from swebench_tasks.wizard import guided_setup

    guided_setup(ui, Path.cwd(), provider=provider, model=model, dataset=dataset, count=count, agent=agent)
