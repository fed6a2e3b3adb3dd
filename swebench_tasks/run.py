"""One run of the graph, as `swebench run`, Quick Run and Guided Setup invoke it.

Resolves settings and the key, holds the working directory's run lock, runs doit,
and returns the summary with the names of the tasks that ran and were up to date.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from swebench_tasks import files
from swebench_tasks.config import Settings, load_settings
from swebench_tasks.errors import UsageError
from swebench_tasks.ui import RunProgress, Ui

if TYPE_CHECKING:
    from swebench_tasks.stages.runcontext import RunContext


def check_configured(settings: Settings) -> None:
    if settings.needs_provider and not (settings.provider and settings.model):
        raise UsageError(
            "no model configured", fix="run `swebench setup`, or pass --provider and --model (or --model gold)"
        )
    if settings.backend == "modal":
        from swebench_tasks.backends.modal import check

        check()
    if settings.backend == "sb-cli" and not settings.generate_only:
        from swebench_tasks.backends.sbcli import supported

        supported(settings)


def resolve_key(settings: Settings, ui: Ui) -> str | None:
    """The provider key (environment, keychain, `.env` pointer, prompt); None if none is needed."""
    if not settings.needs_provider:
        return None
    from swebench_tasks import keys, profiles

    provider = settings.chosen_provider()
    if keys.key_env(provider) is None:  # ollama: no key
        return None
    profile = settings.profile or profiles.active_profile(provider)
    key = keys.resolve_key(
        provider, profile=profile, workdir=settings.workdir, ask_secret=None if ui.json else ui.ask_secret
    )
    if not key:
        raise UsageError(f"no API key for {provider}", fix=keys.key_fix(provider, profile))
    return key


def show_forecast(ui: Ui, ctx: RunContext, stale: list[str]) -> None:
    """The cost of the generations about to run, where prices are known; it never blocks."""
    from swebench_tasks.generation import forecast

    s = ctx.settings
    if ctx.agent_mode:
        from swebench_tasks.agent.limits import forecast_line

        ui.line(forecast_line(s, len(stale)))
        return
    stale_set = set(stale)
    rows = [r for r in ctx.rows() if r["instance_id"] in stale_set]
    budget = None
    if s.context == "retrieval":
        from swebench_tasks.stages.context import budget as context_budget

        budget = context_budget(ctx)
    tokens_in, tokens_out, usd = forecast(
        rows, provider=s.provider, model=s.chosen_model(), context_budget=budget, info=ctx.model_info()
    )
    cost = "unknown" if usd is None else f"~${usd:.2f}"
    ui.line(
        f"Estimated cost for {len(rows)} generation(s) with {s.model}: {cost} "
        f"(about {tokens_in:,} input / {tokens_out:,} output tokens)"
    )


def execute(ui: Ui, workdir: Path, flags: dict, *, key: str | None = None) -> dict:
    """Run the graph for the selection and return the summary (the front shows it).

    `key` is one the wizard just validated and the user chose not to store.
    """
    from swebench_tasks.stages.graph import ensure_dataset, run_graph
    from swebench_tasks.stages.runcontext import RunContext

    settings = load_settings(workdir, no_input=ui.no_input, json=ui.json, **flags)
    check_configured(settings)
    with files.hold(settings.paths):
        ctx = RunContext(settings, ui)
        ensure_dataset(ctx)
        ctx.rows()  # a bad selection (unknown id) fails here, before any work
        ctx.check_evaluable()
        if settings.rerun_failed:  # first: the patches it forgets are stale, and need the key
            ctx.prepare_rerun_failed()
        stale = ctx.stale_generations()
        if stale:
            ctx.key = key or resolve_key(settings, ui)
            show_forecast(ui, ctx, stale)
        if settings.backend == "sb-cli" and not settings.generate_only:
            from swebench_tasks.backends.sbcli import service_key

            ctx.service_key = service_key(settings, ask_secret=None if ui.json else ui.ask_secret)
        with RunProgress(ui) as ctx.progress:
            _, record = run_graph(ctx)
            for line in record.up_to_date_lines():
                ctx.progress.note(line)
    summary = json.loads(ctx.summary_file.read_text())
    summary["tasks"] = {"executed": record.executed, "up_to_date": record.up_to_date}
    return summary
