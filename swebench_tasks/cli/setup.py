"""`swebench setup`: the guided wizard, or with `--no-input` the same config from flags."""

from __future__ import annotations

from pathlib import Path

import click

from swebench_tasks.cli import global_options, ui_from
from swebench_tasks.cli.run import agent_option
from swebench_tasks.errors import UsageError
from swebench_tasks.providers import NAMES


def write_config(
    workdir: Path, *, provider: str, model: str, dataset: str | None, count: int | None, agent: str | None = None
) -> dict[str, str]:
    """The saved defaults a later `swebench run` (and Quick Run) uses; every value is checked
    before anything is written, and it is refused while a run holds the working directory,
    whose settings it would change under it."""
    from swebench_tasks import files
    from swebench_tasks.config import PROVIDERS, Paths, check_text, save_defaults
    from swebench_tasks.datasets import resolve

    for flag, value in (("--provider", provider), ("--model", model), ("--dataset", dataset)):
        check_text(flag, value)
    if provider not in PROVIDERS:
        raise UsageError(f"unknown provider {provider!r}", fix=f"use one of: {', '.join(PROVIDERS)}")
    if count is not None and count < 0:
        raise UsageError(f"--count must be positive, got {count}", fix="pass e.g. --count 5")
    if dataset is not None:
        resolve(dataset, workdir)  # an alias, an existing file or a Hub id, else exit 2 with the fix
    # None leaves the saved value alone; 0 means the whole dataset.
    values = {
        "SWEBENCH_PROVIDER": provider,
        "SWEBENCH_MODEL": model,
        "SWEBENCH_DATASET": dataset,
        "SWEBENCH_COUNT": None if count is None else str(count),
        "SWEBENCH_AGENT": agent,
    }
    with files.hold(Paths(workdir)):
        save_defaults(workdir, values)
    from swebench_tasks import profiles

    active = profiles.active_profile(provider)
    if active:  # a named profile remembers its model (see config.profile_model)
        profiles.set_model(provider, active, model)
    return {k: v for k, v in values.items() if v is not None}


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
