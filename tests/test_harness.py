"""The harness command line and the reading of its results (no engine needed)."""

from __future__ import annotations

import json
import os
import sys
from importlib.metadata import version
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
    flags = harness.accepted_flags(sys.executable, cache)
    assert {"--dataset_name", "--predictions_path", "--run_id", "--report_dir"} <= flags
    assert "--cache_level" not in flags  # removed in 5.x
    entry = json.loads(cache.read_text())[os.path.abspath(sys.executable)]
    assert sorted(flags) == entry["flags"] and entry["stamp"].startswith(version("swebench") + " ")


def fake_interpreter(path: Path, stamp: str, flags: str) -> Path:
    """An interpreter whose harness says `stamp` to the version probe and `flags` to --help; it
    counts the --help runs in <path>.helps."""
    path.write_text(f"#!/bin/sh\ncase \"$*\" in\n*--help*) echo x >> '{path}.helps'; echo '{flags}';;\n"
                    f"*) echo '{stamp}';;\nesac\n")
    path.chmod(0o755)
    return path


def helps(python: Path) -> int:
    try:
        return len(Path(f"{python}.helps").read_text().splitlines())
    except OSError:
        return 0


def test_flags_are_probed_once_per_interpreter_and_harness_version(tmp_path):
    cache = tmp_path / "cache" / "flags.json"
    a = fake_interpreter(tmp_path / "a", "5.0.2 1", "usage: --run_id --report_dir")
    b = fake_interpreter(tmp_path / "b", "4.1.0 1", "usage: --run_id --namespace")
    assert harness.accepted_flags(str(a), cache) == {"--run_id", "--report_dir"}
    assert harness.accepted_flags(str(b), cache) == {"--run_id", "--namespace"}
    assert harness.accepted_flags(str(a), cache) == {"--run_id", "--report_dir"}  # another working dir
    assert (helps(a), helps(b)) == (1, 1)
    fake_interpreter(a, "5.0.3 2", "usage: --run_id")  # the harness was reinstalled
    assert harness.accepted_flags(str(a), cache) == {"--run_id"} and helps(a) == 2


def test_flags_of_a_harness_without_a_readable_version_are_not_cached(tmp_path):
    cache = tmp_path / "flags.json"
    odd = tmp_path / "odd"
    odd.write_text(f"#!/bin/sh\ncase \"$*\" in *--help*) echo x >> '{odd}.helps'; echo '--run_id';; "
                   "*) exit 1;; esac\n")
    odd.chmod(0o755)
    assert harness.accepted_flags(str(odd), cache) == {"--run_id"}
    assert harness.accepted_flags(str(odd), cache) == {"--run_id"} and helps(odd) == 2
    assert not cache.exists()


def test_flags_cache_lives_in_the_user_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert harness.flags_cache_file() == tmp_path / "swebench-runner" / "harness-flags.json"


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


def test_an_emulated_run_gives_the_harness_its_platform(tmp_path, monkeypatch):
    """The platform reaches the harness process through its environment, not through ours."""
    monkeypatch.delenv("DOCKER_DEFAULT_PLATFORM", raising=False)
    probe = [sys.executable, "-c", "import os; print(os.environ.get('DOCKER_DEFAULT_PLATFORM'))"]
    seen = {}
    for platform in ("linux/amd64", None):
        log = tmp_path / f"{platform is not None}.log"
        harness.run(probe, cwd=tmp_path, log_path=log, logs_root=tmp_path, run_id="r", model_name="m",
                    instance_ids=[], platform=platform)
        seen[platform] = log.read_text().strip()
    assert seen == {"linux/amd64": "linux/amd64", None: "None"}
    assert "DOCKER_DEFAULT_PLATFORM" not in os.environ
