"""The run summary: one JSON shape (docs/cli.md, "swebench run --json") whatever the backend.

Written to `results/<run_id>/summary.json` with per-instance artifacts beside it;
`tasks` (which doit tasks ran) is added by the caller, since only it knows.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from swebench_tasks.files import safe_name, write_atomic
from swebench_tasks.harness import EvalResults, instance_log_dir, log_tail


@dataclass
class Prediction:
    instance_id: str
    patch: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    applied: bool | None = None
    error: str = ""  # this instance failed alone (e.g. its prompt was refused); not evaluated


def build_summary(
    *,
    run_id: str,
    provider: str | None,
    model: str,
    dataset: str,
    selected: list[str],
    predictions: dict[str, Prediction],
    results: EvalResults | None,
    results_dir: Path,
    predictions_path: Path | None = None,
) -> dict:
    """`results` None: evaluation was not asked for (--generate-only)."""
    preds = [predictions[i] for i in selected if i in predictions]
    costs = [p.cost_usd for p in preds if p.cost_usd is not None]
    made = [p for p in preds if not p.error]
    checked = [p for p in made if p.applied is not None]
    r = results or EvalResults(source="none")
    reasons = {i: f"evaluation failed (log tail in {results_dir / i / 'log_tail.txt'})" for i in r.error_ids}
    reasons.update({p.instance_id: p.error for p in preds if p.error})
    return {
        "run_id": run_id,
        "provider": provider,
        "model": model,
        "dataset": dataset,
        "selected": len(selected),
        "generated": len(made),
        "evaluated": r.evaluated,
        "resolved": len(r.resolved_ids),
        "unresolved": len(r.unresolved_ids),
        "errors": len(reasons),
        "empty_patches": sum(1 for p in made if not p.patch.strip()),
        "applied": sum(1 for p in checked if p.applied) if checked else None,
        "resolved_ids": r.resolved_ids,
        "unresolved_ids": r.unresolved_ids,
        "error_ids": list(reasons),
        "error_reasons": reasons,
        "evaluation": "skipped" if results is None else "done",  # skipped: --generate-only
        "results_dir": str(results_dir),
        "report_path": str(r.report_path) if r.report_path else None,
        "predictions_path": str(predictions_path) if predictions_path else None,
        "cost_usd": round(sum(costs), 6) if costs else None,
        "tokens": {"input": sum(p.input_tokens for p in preds), "output": sum(p.output_tokens for p in preds)},
    }


def write_artifacts(
    *, results_dir: Path, summary: dict, predictions: dict[str, Prediction], logs_root: Path, model_name: str
) -> None:
    """Per instance: the patch, the harness report, the log tail; then summary.json last."""
    run_id = summary["run_id"]
    for iid in dict.fromkeys(
        summary["resolved_ids"]
        + summary["unresolved_ids"]
        + summary["error_ids"]
        + [i for i, p in predictions.items() if not p.patch.strip()]
    ):
        out = results_dir / safe_name(iid)
        out.mkdir(parents=True, exist_ok=True)
        pred = predictions.get(iid)
        (out / "patch.diff").write_text(pred.patch if pred else "")
        if pred is not None and pred.error:
            (out / "error.txt").write_text(pred.error + "\n")
        log_dir = instance_log_dir(logs_root, run_id, model_name, iid)
        if (log_dir / "report.json").exists():
            shutil.copyfile(log_dir / "report.json", out / "report.json")
        for name in ("test_output.txt", "run_instance.log"):
            if (log_dir / name).exists():
                (out / "log_tail.txt").write_text(f"{log_dir / name}\n{log_tail(log_dir / name, 40)}\n")
                break
    write_atomic(results_dir / "summary.json", json.dumps(summary, indent=2))
