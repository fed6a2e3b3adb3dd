"""Apply and resolve rates on the test-built instances, before and after repair.

A scripted model answers every instance with its gold patch damaged in one of the
typical ways (tests/test_diffs.py DEFECTS), wrapped in prose. "before": the diff as
extracted from the reply goes straight to the real harness (which itself tries git
apply, --3way, --reject and patch --fuzz=5). "after": the same replies go through
`swebench run` (extraction, repair, `git apply --check` in the instance container,
one retry), then the harness. Run it, it prints a table; it asserts nothing:

    python -m pytest benchmarks/test_resolve_rate.py -s -q
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from swebench_tasks.diffs import extract_diff
from tests.test_diffs import DEFECTS, in_prose
from tests.test_run import swebench


def run(*args: str) -> dict:
    out = swebench("run", "--no-input", "--json", "--no-preflight", *args, timeout=900)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.docker
def test_resolve_rate(workspace, instance_dataset, openai_server, provider_env, monkeypatch):
    for var, value in provider_env.items():
        monkeypatch.setenv(var, value)
    ids = instance_dataset.hub_ids
    data = instance_dataset.write(Path("hub.jsonl"), ids)
    rows = []
    for name, defect in {"none": lambda d: d, **DEFECTS}.items():
        replies = {i: in_prose(defect(instance_dataset.gold[i])) for i in ids}
        raw = Path(f"raw-{len(rows)}.jsonl")
        instance_dataset.write_predictions(raw, {i: extract_diff(r) for i, r in replies.items()},
                                           model=f"raw-{len(rows)}")
        before = run("--predictions", str(raw), "-d", str(data))

        def reply(body: dict, replies=replies) -> str:
            prompt = json.dumps(body["messages"])
            return next(r for i, r in replies.items()
                        if instance_dataset.row(i)["problem_statement"].splitlines()[0] in prompt)

        openai_server.on_chat = reply
        shutil.rmtree(".swebench/generations", ignore_errors=True)
        after = run("--provider", "openai", "--model", "gpt-4o-mini", "-d", str(data),
                    "--run-id", f"after-{len(rows)}")
        rows.append((name, len(ids) - before["errors"] - before["empty_patches"], before["resolved"],
                     after["applied"], after["resolved"]))
    n = len(ids)
    print(f"\n{'defect':36} {'applied before':>15} {'resolved before':>16} {'applied after':>14} "
          f"{'resolved after':>15}")
    for name, ab, rb, aa, ra in rows:
        print(f"{name:36} {ab:>12}/{n} {rb:>13}/{n} {aa:>11}/{n} {ra:>12}/{n}")
    total = len(rows) * n
    print(f"{'total':36} {sum(r[1] for r in rows):>12}/{total} {sum(r[2] for r in rows):>13}/{total} "
          f"{sum(r[3] for r in rows):>11}/{total} {sum(r[4] for r in rows):>12}/{total}")
