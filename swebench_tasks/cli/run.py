"""`swebench run`: the task graph for the saved defaults, overridden by flags."""

from __future__ import annotations

from pathlib import Path

import click

from swebench_tasks.cli import global_options, ui_from
from swebench_tasks.providers import NAMES


def selection_options(func):
    """The flags that pick what to run; shared by `run` and `preflight`."""
    options = [
        click.option(
            "-d", "--dataset", help="lite, verified, full, multimodal, multilingual, a HF id or a local file."
        ),
        click.option("--split", default=None, help="Dataset split (default: test)."),
        click.option("--count", type=int, default=None, help="The first N instances, in dataset order."),
        click.option("--instance-ids", default=None, help="Comma-separated instance ids (wins over --count)."),
        click.option("--provider", default=None, help=f"{', '.join(NAMES)}."),
        click.option("--model", default=None, help="Model id, or `gold` for the dataset's gold patches."),
        click.option("--profile", default=None, help="Named profile whose key to use."),
        click.option("--backend", default=None, help="local (Docker) or sb-cli (hosted evaluation)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


agent_option = click.option(
    "--agent",
    default=None,
    type=click.Choice(["mini-swe-agent", "none"]),
    help="mini-swe-agent: an agent works in each instance's container; none: one reply (default).",
)


def selection_flags(kwargs: dict) -> dict:
    """Click values -> Settings fields (None means not given)."""
    ids = kwargs.pop("instance_ids", None)
    if ids:
        kwargs["instance_ids"] = tuple(i.strip() for i in ids.replace(" ", ",").split(",") if i.strip())
    return {k: v for k, v in kwargs.items() if v is not None}


@click.command("run")
@selection_options
@click.option("--max-workers", type=int, default=None, help="Concurrent model requests and harness workers.")
@click.option(
    "--run-id", default=None, help="Name of this run (default: <dataset>-<model>, plus -mini-swe-agent in agent mode)."
)
@click.option(
    "--context",
    default=None,
    type=click.Choice(["retrieval", "statement", "text"]),
    help="What the model sees besides the issue (default: retrieval).",
)
@click.option(
    "--timeout", type=int, default=None, help="Per-instance harness timeout in seconds (sb-cli: bounds the whole wait)."
)
@click.option("--rerun-failed", is_flag=True, default=None, help="Re-evaluate (and regenerate) what did not resolve.")
@click.option("--no-preflight", "no_preflight", is_flag=True, default=False, help="Skip the preflight tasks.")
@click.option("--generate-only", is_flag=True, default=None, help="Stop after writing predictions.")
@click.option(
    "--predictions",
    type=click.Path(path_type=Path),
    default=None,
    help="Evaluate these patches (JSONL/JSON) instead of generating.",
)
@agent_option
@click.option(
    "--step-limit",
    type=click.IntRange(min=1),
    default=None,
    help="Agent mode: model calls per instance (default: 250).",
)
@click.option(
    "--cost-limit",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Agent mode: USD per instance (default: 3).",
)
@click.option(
    "--budget",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Agent mode: USD for the whole run; once spent, no new instance starts.",
)
@global_options
@click.pass_context
def command(ctx: click.Context, no_input, json_mode, no_preflight, **kwargs) -> None:
    """Generate patches, evaluate them with the official harness, and summarise.

    Only stale tasks run: a repeated `swebench run` makes no model call for a patch
    it already has and pulls no image that is already present.
    """
    from swebench_tasks.run import execute

    ui = ui_from(ctx, no_input, json_mode)
    flags = selection_flags(kwargs)
    if no_preflight:
        flags["preflight"] = False
    ui.summary(execute(ui, Path.cwd(), flags))
