"""Stages `predictions` and `evaluate`: the selection's patches in the harness's JSONL, then
the chosen backend's verdicts (instances already judged on the same patch are skipped).

Every backend leaves the harness-shaped report at `ctx.harness_report`, so the report
stage is the same for all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from swebench_tasks import datasets
from swebench_tasks.stages.runcontext import RunContext


def tasks(ctx: RunContext) -> Iterator[dict]:
    from doit.tools import config_changed

    s = ctx.settings
    yield {
        "basename": "predictions",
        "doc": "The harness's predictions JSONL for the selection, written atomically.",
        "actions": [ctx.action(write_predictions)],
        "file_dep": sources(ctx),
        "targets": [ctx.predictions_file],
        "task_dep": ["generate"],
        "verbosity": 2,
        "uptodate": [config_changed({"ids": ctx.selected_ids(), "model": s.model_name})],
    }
    yield {
        "basename": "evaluate",
        "doc": "The official harness on the predictions (instances already judged are skipped).",
        "actions": [ctx.action(evaluate)],
        "file_dep": [ctx.predictions_file, ctx.dataset_file],
        "targets": [ctx.harness_report],
        "task_dep": ["predictions"] + (["preflight"] if s.preflight else []) + (["image"] if ctx.uses_docker else []),
        "verbosity": 2,
        "uptodate": [config_changed({"ids": ctx.selected_ids(), "backend": s.backend}), not s.rerun_failed],
    }


def sources(ctx: RunContext) -> list[Path]:
    """The files the predictions come from: the dataset (gold), a given file, or the records."""
    s = ctx.settings
    if s.gold:
        return [ctx.dataset_file]
    if s.predictions:
        return [Path(s.predictions).resolve(), ctx.dataset_file]
    return [ctx.record_file(i) for i in ctx.selected_ids()]


def write_predictions(ctx: RunContext) -> None:
    name = ctx.settings.model_name
    rows = [
        {"instance_id": p.instance_id, "model_name_or_path": name, "model_patch": p.patch}
        for p in ctx.predictions().values()
        if not p.error
    ]
    datasets.write_jsonl(ctx.predictions_file, rows)


def evaluate(ctx: RunContext) -> None:
    from swebench_tasks import backends

    backends.evaluate(ctx)
