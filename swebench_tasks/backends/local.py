"""The official harness on the local Docker engine (and, through `modal`, on Modal)."""

from __future__ import annotations

import shutil
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import TYPE_CHECKING

from swebench_tasks import datasets, harness

if TYPE_CHECKING:
    from swebench_tasks.stages.runcontext import RunContext


def evaluate(ctx: RunContext, *, label: str = "Running harness evaluation", modal: bool = False) -> None:
    """The harness on the selection; verdicts of changed patches are dropped first, and
    instances without a patch are known empty before the harness says so."""
    preds = ctx.predictions()
    for iid, pred in preds.items():  # the harness skips an instance with a report.json
        logs = ctx.instance_logs(iid)
        judged = logs / "patch.diff"
        if judged.exists() and judged.read_text() != pred.patch:
            shutil.rmtree(logs, ignore_errors=True)
    empty = {i for i in ctx.selected_ids() if not (preds.get(i) and preds[i].patch.strip())}
    run_harness(
        ctx,
        dataset=ctx.dataset_file,
        predictions=ctx.predictions_file,
        instance_ids=ctx.selected_ids(),
        run_id=ctx.run_id,
        model_name=ctx.settings.model_name,
        stage="evaluate",
        label=label,
        empty_ids=empty,
        modal=modal,
    )


def run_harness(
    ctx: RunContext,
    *,
    dataset: Path,
    predictions: Path,
    instance_ids: list[str],
    run_id: str,
    model_name: str,
    stage: str,
    label: str,
    empty_ids: AbstractSet[str] = frozenset(),
    modal: bool = False,
) -> harness.EvalResults:
    """Run the local harness and read its results; shared by evaluate and the preflight smoke test."""
    from swebench_tasks.images import emulated_platform

    s, paths = ctx.settings, ctx.paths
    wanted = set(instance_ids)
    datasets.check_evaluable([r for r in ctx.rows() if r["instance_id"] in wanted])
    flags = harness.accepted_flags(s.harness_python)
    cmd = harness.build_command(
        python=s.harness_python,
        flags=flags,
        dataset=str(dataset),
        split=s.split,
        predictions=predictions,
        instance_ids=instance_ids,
        max_workers=s.max_workers,
        timeout=s.timeout,
        run_id=run_id,
        report_dir=paths.reports,
        namespace=s.docker_namespace if "--namespace" in flags else None,
        modal=modal,
    )
    watched = [i for i in instance_ids if i not in empty_ids]
    ctx.progress.stage(stage, len(watched), label)
    harness.run(
        cmd,
        cwd=s.workdir,
        log_path=paths.runs / run_id / "harness.log",
        logs_root=paths.harness_logs,
        run_id=run_id,
        model_name=model_name,
        instance_ids=watched,
        on_progress=lambda done, total: ctx.progress.set(stage, done),
        platform=emulated_platform(ctx),
    )
    return harness.read_results(
        report_dir=paths.reports,
        logs_root=paths.harness_logs,
        model_name=model_name,
        run_id=run_id,
        instance_ids=instance_ids,
        empty_ids=set(empty_ids),
    )
