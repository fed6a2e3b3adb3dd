"""The official harness on the local Docker engine."""

from __future__ import annotations


def evaluate(graph) -> None:
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
        label="Running harness evaluation",
        empty_ids=empty,
    )
