"""Stage `dataset`: fetch the dataset once and cache it as JSONL under `.swebench/`."""

from __future__ import annotations

from collections.abc import Iterator

from swebench_tasks import datasets
from swebench_tasks.stages.runcontext import RunContext


def tasks(ctx: RunContext) -> Iterator[dict]:
    s = ctx.settings
    task = {
        "basename": "dataset",
        "doc": "Fetch the dataset once and cache it as JSONL under .swebench/.",
        "actions": [ctx.action(fetch)],
        "targets": [ctx.dataset_file],
        "uptodate": [True],
        "verbosity": 2,
    }
    if datasets.is_local(s.dataset):  # a local file is fetched again when it changes
        task["file_dep"] = [datasets.resolve(s.dataset, s.workdir)]
        task.pop("uptodate")
    yield task


def fetch(ctx: RunContext) -> None:
    s = ctx.settings
    ctx.progress.note(f"Fetching dataset {s.dataset} ({s.split})...")
    count = datasets.fetch(s.dataset, s.split, s.workdir, ctx.dataset_file)
    ctx.progress.note(f"Cached {count} rows at {ctx.dataset_file}")
