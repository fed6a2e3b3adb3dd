"""The official harness on the local Docker engine (and, through `modal`, on Modal)."""

from __future__ import annotations


def evaluate(graph, *, label: str = "Running harness evaluation", modal: bool = False) -> None:
    """The harness on the selection; verdicts of changed patches are dropped first, and
    instances without a patch are known empty before the harness says so."""
    preds = graph.predictions()
    graph.drop_stale_verdicts(preds)
    empty = {i for i in graph.selected_ids() if not (preds.get(i) and preds[i].patch.strip())}
    graph.run_harness(
        dataset=graph.dataset_file,
        predictions=graph.predictions_file,
        instance_ids=graph.selected_ids(),
        run_id=graph.run_id,
        model_name=graph.settings.model_name,
        stage="evaluate",
        label=label,
        empty_ids=empty,
        modal=modal,
    )
