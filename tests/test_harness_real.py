"""The Docker test infrastructure, proven with the real harness: the instances' images are
pulled through the registry, gold patches resolve every instance, wrong patches none, and a
patch that does not apply is an error."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.engine import DockerEngine, InstanceDataset, Registry

pytestmark = pytest.mark.docker


@dataclass(frozen=True)
class HarnessRun:
    summary: dict
    log_dir: Path  # logs/run_evaluation/<run_id>/<model>

    def report(self, instance_id: str) -> dict:
        return json.loads((self.log_dir / instance_id / "report.json").read_text())[instance_id]

    def logs(self, *instance_ids: str) -> str:
        """The tail of each instance's harness log, for an assertion message."""
        tails = []
        for instance_id in instance_ids:
            log = self.log_dir / instance_id / "run_instance.log"
            text = log.read_text() if log.exists() else "(no log)"
            tails.append(f"--- {log}\n" + "\n".join(text.splitlines()[-25:]))
        return "\n".join(tails)


def run_harness(cwd: Path, dataset: Path, predictions: str, run_id: str, model: str) -> HarnessRun:
    """`python -m swebench.harness.run_evaluation` as the tool runs it, in cwd."""
    result = subprocess.run(
        [
            sys.executable, "-m", "swebench.harness.run_evaluation",
            "-d", str(dataset), "-p", predictions, "-id", run_id,
            "--max_workers", "2", "--report_dir", "reports",
        ],
        cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    summary = cwd / "reports" / f"{model.replace('/', '__')}.{run_id}.json"
    return HarnessRun(json.loads(summary.read_text()), cwd / "logs" / "run_evaluation" / run_id / model.replace("/", "__"))


@pytest.fixture
def evaluation(
    tmp_path: Path, docker_engine: DockerEngine, instance_dataset: InstanceDataset
) -> Iterator[tuple[Path, list[str]]]:
    """A dataset in which each instance names an image the engine must pull: the Docker Hub
    name for most, the fallback name for the fallback-only one. Pulled images are removed
    afterwards, so every test starts with none of them in the engine."""
    rows = [
        {**row, "image": instance_dataset.fallback_images.get(row["instance_id"], row["image"])}
        for row in instance_dataset.rows
    ]
    images = [row["image"] for row in rows]
    assert not any(docker_engine.has_image(image) for image in images)
    try:
        yield instance_dataset.write(tmp_path / "dataset.jsonl", rows=rows), images
    finally:
        docker_engine.remove_images(*images)


def test_registry_serves_hub_names_and_fallbacks_only_where_expected(
    registry: Registry, docker_engine: DockerEngine, instance_dataset: InstanceDataset
) -> None:
    def in_registry(image: str) -> bool:
        repository, tag = image.removeprefix(f"{registry.address}/").rsplit(":", 1)
        return registry.has(repository, tag)

    for instance_id in instance_dataset.hub_ids:
        image = instance_dataset.row(instance_id)["image"]
        assert image.startswith("swebench/sweb.eval.") and "_1776_" in image
        assert in_registry(image) and not docker_engine.has_image(image)
    for instance_id in instance_dataset.fallback_ids:
        fallback = instance_dataset.fallback_images[instance_id]
        assert fallback == (
            f"{instance_dataset.fallback_namespace}/swe-bench.eval.{docker_engine.arch}.{instance_id}:latest"
        )
        assert in_registry(fallback) and not docker_engine.has_image(fallback)
        assert not in_registry(instance_dataset.row(instance_id)["image"])
    lines = instance_dataset.path.read_text().splitlines()
    assert [json.loads(line)["instance_id"] for line in lines] == instance_dataset.ids


def test_gold_patches_resolve_every_instance(
    tmp_path: Path, docker_engine: DockerEngine, instance_dataset: InstanceDataset,
    evaluation: tuple[Path, list[str]],
) -> None:
    dataset, images = evaluation
    run = run_harness(tmp_path, dataset, "gold", "t1", "gold")

    unresolved = sorted(set(instance_dataset.ids) - set(run.summary["resolved_ids"]))
    assert not unresolved, run.logs(*unresolved)
    assert run.summary["resolved_ids"] == sorted(instance_dataset.ids)
    for instance_id in instance_dataset.ids:
        report = run.report(instance_id)
        assert report["resolved"] and report["patch_successfully_applied"]
        f2p = json.loads(instance_dataset.row(instance_id)["FAIL_TO_PASS"])
        assert report["tests_status"]["FAIL_TO_PASS"]["success"] == f2p
    assert all(docker_engine.has_image(image) for image in images)  # the harness pulled them


def test_wrong_patches_resolve_none_and_a_stale_patch_is_an_error(
    tmp_path: Path, instance_dataset: InstanceDataset, evaluation: tuple[Path, list[str]]
) -> None:
    dataset, _ = evaluation
    stale = instance_dataset.ids[0]
    patches = {i: instance_dataset.wrong[i] for i in instance_dataset.ids if i != stale}
    predictions = instance_dataset.write_predictions(
        tmp_path / "predictions.jsonl", {stale: instance_dataset.broken[stale], **patches}
    )
    run = run_harness(tmp_path, dataset, str(predictions), "t2", "acme/test-model")

    assert run.summary["resolved_ids"] == []
    assert run.summary["unresolved_ids"] == sorted(patches), run.logs(*patches)
    assert run.summary["error_ids"] == [stale]
    for instance_id in patches:
        report = run.report(instance_id)
        assert report["patch_successfully_applied"] and not report["resolved"]
        f2p = json.loads(instance_dataset.row(instance_id)["FAIL_TO_PASS"])
        assert report["tests_status"]["FAIL_TO_PASS"]["failure"] == f2p
        assert report["tests_status"]["PASS_TO_PASS"]["failure"] == []
    assert not (run.log_dir / stale / "report.json").exists()
    assert ">>>>> Patch Apply Failed" in (run.log_dir / stale / "run_instance.log").read_text()
