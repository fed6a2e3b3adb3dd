"""Stage `report`: the run summary and per-instance artifacts under results/<run_id>/.

It reads what the other stages left on disk: the records (patches, tokens, cost, an
agent's outcome and trajectory) and the harness-shaped report of the evaluation.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

from swebench_tasks.agent import NAME as AGENT
from swebench_tasks.stages.runcontext import RunContext


def tasks(ctx: RunContext) -> Iterator[dict]:
    from doit.tools import config_changed

    s = ctx.settings
    yield {
        "basename": "report",
        "doc": "The run summary and per-instance artifacts under results/<run_id>/.",
        "actions": [ctx.action(write_report)],
        "file_dep": [ctx.predictions_file] + ([] if s.generate_only else [ctx.harness_report]),
        "targets": [ctx.summary_file],
        "task_dep": ["predictions" if s.generate_only else "evaluate"],
        "uptodate": [config_changed({"ids": ctx.selected_ids()})],
        "verbosity": 2,
    }


def write_report(ctx: RunContext) -> None:
    from swebench_tasks import harness, report

    s = ctx.settings
    preds = ctx.predictions()
    results = None
    if not s.generate_only:
        results = harness.read_results(
            report_dir=ctx.paths.reports,
            logs_root=ctx.paths.harness_logs,
            model_name=s.model_name,
            run_id=ctx.run_id,
            instance_ids=ctx.selected_ids(),
            empty_ids={i for i, p in preds.items() if not p.patch.strip()},
        )
    summary = report.build_summary(
        run_id=ctx.run_id,
        provider=s.provider if s.needs_provider else None,
        model=s.model_name,
        dataset=s.dataset,
        selected=ctx.selected_ids(),
        predictions=preds,
        results=results,
        results_dir=ctx.results_dir,
        predictions_path=ctx.predictions_file,
    )
    if ctx.agent_mode:  # docs/agent-mode.md: the summary's keys are otherwise unchanged
        summary.update(agent_summary(ctx))
        copy_trajectories(ctx, ctx.results_dir)
    report.write_artifacts(
        results_dir=ctx.results_dir,
        summary=summary,
        predictions=preds,
        logs_root=ctx.paths.harness_logs,
        model_name=s.model_name,
    )


def read_outcome(path: Path) -> dict | None:
    """The agent's outcome saved beside an instance's record, if it ran in agent mode."""
    try:
        agent = json.loads(path.read_text()).get("agent")
    except (OSError, ValueError, AttributeError):
        return None
    return agent if isinstance(agent, dict) else None


def copy_trajectories(ctx: RunContext, results_dir: Path) -> None:
    """Each instance's trajectory under results/<run_id>/<id>/."""
    for iid in ctx.selected_ids():
        source = ctx.trajectory_file(iid)
        if source.exists():
            (results_dir / iid).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, results_dir / iid / "trajectory.json")


def agent_summary(ctx: RunContext) -> dict:
    """The summary's agent part: protocols used, total steps, and per instance its outcome."""
    instances = {}
    for iid in ctx.selected_ids():
        outcome = read_outcome(ctx.record_file(iid))
        if outcome is not None:
            instances[iid] = {
                "exit_status": outcome["exit_status"],
                "steps": outcome["steps"],
                "cost_usd": outcome["cost"],
                "protocol": outcome["protocol"],
            }
    return {
        "agent": AGENT,
        "protocols": sorted({i["protocol"] for i in instances.values() if i["protocol"]}),
        "steps": sum(i["steps"] for i in instances.values()),
        "instances": instances,
    }
