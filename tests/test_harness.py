"""The harness command line and the reading of its results (no engine needed)."""

from __future__ import annotations

import json
from pathlib import Path

from swebench_tasks import harness


def test_command_passes_only_accepted_flags(tmp_path):
    cmd = harness.build_command(python="py", flags={"--report_dir"}, dataset="d.jsonl", split="test",
                                predictions=tmp_path / "p.jsonl", instance_ids=["a", "b"], max_workers=2,
                                timeout=60, run_id="r", report_dir=tmp_path, namespace="ns")
    assert cmd[:3] == ["py", "-m", "swebench.harness.run_evaluation"]
    assert cmd[cmd.index("--instance_ids") + 1: cmd.index("--instance_ids") + 3] == ["a", "b"]
    assert "--report_dir" in cmd and "--namespace" not in cmd and "--cache_level" not in cmd
    with_ns = harness.build_command(python="py", flags={"--namespace"}, dataset="d", split="test",
                                    predictions=tmp_path, instance_ids=[], max_workers=1, timeout=1,
                                    run_id="r", report_dir=tmp_path, namespace="ns")
    assert with_ns[-2:] == ["--namespace", "ns"] and "--report_dir" not in with_ns


def test_installed_harness_flags_are_read_and_cached(tmp_path):
    cache = tmp_path / "flags.json"
    flags = harness.accepted_flags(__import__("sys").executable, cache)
    assert {"--dataset_name", "--predictions_path", "--run_id", "--report_dir"} <= flags
    assert "--cache_level" not in flags  # removed in 5.x
    assert json.loads(cache.read_text())["flags"]


def _instance_report(root: Path, run_id: str, model: str, iid: str, resolved: bool) -> None:
    d = harness.instance_log_dir(root, run_id, model, iid)
    d.mkdir(parents=True)
    (d / "report.json").write_text(json.dumps({iid: {"resolved": resolved}}))


def test_results_from_summary_then_instances_then_errors(tmp_path):
    logs, reports = tmp_path / "logs", tmp_path / "reports"
    reports.mkdir()
    model = "org/m"
    _instance_report(logs, "r", model, "a", True)
    _instance_report(logs, "r", model, "b", False)
    res = harness.read_results(report_dir=reports, logs_root=logs, model_name=model, run_id="r",
                               instance_ids=["a", "b", "c", "d"], empty_ids={"d"})
    assert (res.source, res.resolved_ids, res.unresolved_ids, res.error_ids, res.empty_patch_ids) == (
        "instances", ["a"], ["b"], ["c"], ["d"])
    harness.summary_report_path(reports, model, "r").write_text(json.dumps(
        {"resolved_ids": ["a"], "unresolved_ids": [], "error_ids": ["b"], "empty_patch_ids": []}))
    res = harness.read_results(report_dir=reports, logs_root=logs, model_name=model, run_id="r",
                               instance_ids=["a", "b"], empty_ids=set())
    assert res.source == "summary" and res.error_ids == ["b"]
    assert harness.summary_report_path(reports, model, "r").name == "org__m.r.json"
