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
    execute(ui_from(ctx, no_input, json_mode), Path.cwd(), selection_flags(kwargs))


def execute(ui, workdir: Path, flags: dict, *, key: str | None = None, check: bool = True) -> dict:
    """Run the preflight tasks for a selection, show (or emit) the result, raise its failure.

    Shared with the wizard, which passes a `key` it has just validated and not stored, and
    `check=False` to get the failure in the document (its `error` and `tasks.failed`) instead.
    """
    from swebench_tasks import files, preflight
    from swebench_tasks.config import load_settings
    from swebench_tasks.errors import SwebenchError, UsageError
    from swebench_tasks.run import resolve_key
    from swebench_tasks.tasks import Graph, run_graph
    from swebench_tasks.ui import RunProgress

    settings = load_settings(workdir, no_input=ui.no_input, json=ui.json, **flags)
    graph = Graph(settings, ui)
    failure: SwebenchError | None = None
    with files.hold(settings.paths):
        try:
            graph.key = key or (resolve_key(settings, ui) if settings.provider else None)
        except UsageError:
            pass  # the key task says so, in its place after the system checks
        with RunProgress(ui) as graph.progress:
            try:
                run_graph(graph, ["preflight"])
            except SwebenchError as exc:
                failure = exc
    document = preflight.summary(graph, failure)
    if ui.json:
        ui.emit(document)
    else:
        render(ui, document)
    if failure is not None and check:
        raise failure
    return document


def render(ui, document: dict) -> None:
    """The steps that were cached (the ones that ran printed their lines as they went)."""
    from swebench_tasks.preflight import Check

    cached = set(document["tasks"]["up_to_date"])
    if "preflight:system" in cached:
        ui.print("System checks (unchanged since they passed):", markup=False)
        for c in document["checks"]:
            ui.print(f"  {Check(c['name'], c['ok'], c['detail'], c['fix'], c['required']).line()}", markup=False)
    for step, field in (("key", "provider"), ("image", "image"), ("smoke", "instance_id")):
        if f"preflight:{step}" in cached:
            ui.print(f"✔ {step}: {(document[step] or {}).get(field, '')} (cached)", markup=False)
    if document["ok"]:
        ui.print("Preflight passed.", markup=False)
