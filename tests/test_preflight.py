"""Preflight: the checks (unit, with fakes where the outside world is the point), then the doit
group against the real engine, registry and harness (docker), and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from swebench_tasks import checks as preflight
from swebench_tasks.config import load_settings
from swebench_tasks.engine import EngineInfo
from swebench_tasks.errors import AuthError, EngineError
from swebench_tasks.stages import preflight as stage
from swebench_tasks.stages.graph import run_graph
from tests.support.engine import DockerEngine, InstanceDataset, fallback_image
from tests.support.providers import KEYS
from tests.test_backend_sbcli import NO_DOCKER, lite  # noqa: F401 (lite is a fixture)
from tests.test_run import error_lines, swebench
from tests.test_images import FALLBACK_ONLY, engine, make_graph  # noqa: F401 (engine is a fixture)

GIB = preflight.GIB


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m swebench_tasks ARGS` in the workspace, with no wall-clock limit (it may run the harness)."""
    return swebench(*args, env=env, timeout=None)


# -- unit ---------------------------------------------------------------------------------------------

def test_check_lines_show_mark_and_fix() -> None:
    assert preflight.Check("python", True, "Python 3.11").line() == "✔ python: Python 3.11"
    failed = preflight.Check("docker engine", False, "not reachable", "start Docker")
    assert failed.line() == "✖ docker engine: not reachable (fix: start Docker)"
    warn = preflight.Check("disk", False, "low", "free some", required=False)
    assert warn.line() == "✖ disk: low (warning) (fix: free some)"
    assert warn.to_json() == {"name": "disk", "ok": False, "required": False, "detail": "low", "fix": "free some"}


def test_disk_below_need_warns_with_numbers() -> None:
    check = preflight.check_disk(3 * GIB, 5, "/var/lib/docker")
    need = 5 * preflight.IMAGE_BYTES + preflight.HEADROOM_BYTES
    assert not check.ok and not check.required
    assert "3.0 GiB free at /var/lib/docker" in check.detail
    assert f"5 image(s) to pull need about {need / GIB:.1f} GiB" in check.detail
    assert f"free {(need - 3 * GIB) / GIB:.1f} GiB" in check.fix
    assert preflight.check_disk(100 * GIB, 5, "/x").ok


def test_unchanged_reruns_only_when_the_state_changes() -> None:
    class Task:
        value_savers: list = []

    state = {"engine": "A"}
    check = stage.unchanged("x", lambda: dict(state))
    task = Task()
    check.configure_task(task)
    assert check(task, {}) is False
    saved = task.value_savers[0]()
    assert check(task, saved) is True
    state["engine"] = "B"
    assert check(task, saved) is False


def test_harness_that_does_not_import(tmp_path: Path) -> None:
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'swebench'\" >&2\nexit 1\n")
    python.chmod(0o755)
    check = preflight.check_harness(str(python))
    assert not check.ok and check.required and "No module named 'swebench'" in check.detail
    assert "SWEBENCH_HARNESS_PYTHON" in check.fix and isinstance(check.error, EngineError)
    assert preflight.check_harness(str(tmp_path / "nope")).fix.count("SWEBENCH_HARNESS_PYTHON") == 1


def test_harness_version_is_reported() -> None:
    check = preflight.check_harness(sys.executable)
    assert check.ok and f"swebench {preflight.harness_version(sys.executable)}" in check.detail


def test_docker_cli_must_reach_the_same_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = EngineInfo("unix:///run/a.sock", "ENGINE-A", "20.10", "x86_64", "linux", "/x", ())
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho ENGINE-B\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    check = preflight.check_docker_cli(info)
    assert not check.ok and "DOCKER_HOST=unix:///run/a.sock" in check.fix
    fake.write_text("#!/bin/sh\necho ENGINE-A\n")
    assert preflight.check_docker_cli(info).ok
    fake.unlink()
    missing = preflight.check_docker_cli(info)
    assert not missing.ok and "not on PATH" in missing.detail


def test_network_targets(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(workspace)
    info = EngineInfo("unix:///x", "id", "20.10", "x86_64", "linux", "/x", ("http://127.0.0.1:5000/",))
    hub = ["swebench/sweb.eval.x86_64.a:latest"]
    targets = preflight.network_targets(settings, info, hub, "https://api.openai.com/v1")
    assert targets == {"registry mirror http://127.0.0.1:5000": ("127.0.0.1", 5000),
                       "registry ghcr.io": ("ghcr.io", 443),
                       "provider https://api.openai.com/v1": ("api.openai.com", 443)}
    assert preflight.network_targets(settings, info, [], None) == {}
    no_mirror = EngineInfo("unix:///x", "id", "20.10", "x86_64", "linux", "/x", ())
    assert "registry docker.io" in preflight.network_targets(settings, no_mirror, None, None)
    checks = preflight.check_network({}, "the engine has all 3 selected image(s)")
    assert [c.detail for c in checks] == ["not needed: the engine has all 3 selected image(s)"]


def _tiny_dataset(path: Path) -> Path:
    row = {"instance_id": "acme__x-1", "repo": "acme/x", "version": "1", "image": "acme/x:1", "eval_script": "",
           "log_parser": "parse_log_pytest", "eval_type": "pass_and_fail", "FAIL_TO_PASS": "[]",
           "PASS_TO_PASS": "[]", "problem_statement": "x", "patch": "", "base_commit": "0"}
    path.write_text(json.dumps(row) + "\n")
    return path


def test_key_is_validated_once_per_key(workspace: Path, openai_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEYS["openai"])
    dataset = _tiny_dataset(workspace / "d.jsonl")
    graph = make_graph(workspace, dataset, [], provider="openai", model="gpt-test")
    run_graph(graph, ["preflight:key"])
    assert "preflight:key" in graph.record.executed and openai_server.paths() == ["/v1/models"]
    record = (workspace / ".swebench/preflight/key.json").read_text()
    assert KEYS["openai"] not in record and json.loads(record)["fingerprint"].startswith("hmac-sha256:")

    again = make_graph(workspace, dataset, [], provider="openai", model="gpt-test")
    run_graph(again, ["preflight:key"])
    assert "preflight:key" in again.record.up_to_date and openai_server.paths() == ["/v1/models"]

    monkeypatch.setenv("OPENAI_API_KEY", "sk-another-key-000")
    changed = make_graph(workspace, dataset, [], provider="openai", model="gpt-test")
    with pytest.raises(AuthError) as err:
        run_graph(changed, ["preflight:key"])
    assert err.value.exit_code == 3 and len(openai_server.paths()) == 2


def test_no_key_task_for_gold_or_keyless_providers(workspace: Path) -> None:
    dataset = _tiny_dataset(workspace / "d.jsonl")
    for flags in ({"model": "gold"}, {"provider": "ollama", "model": "llama3"}):
        names = [t["name"] for t in stage.tasks(make_graph(workspace, dataset, [], **flags)) if t["name"]]
        assert "key" not in names and names[0] == "system"


def test_malformed_namespace_and_docker_host_exit_2(workspace: Path) -> None:
    dataset = _tiny_dataset(workspace / "d.jsonl")
    bad_ns = cli("preflight", "--model", "gold", "-d", str(dataset),
                 env={"SWEBENCH_DOCKER_NAMESPACE": "Not A/Namespace"})
    assert bad_ns.returncode == 2, bad_ns.stderr
    assert len(error_lines(bad_ns.stderr)) == 1 and "SWEBENCH_DOCKER_NAMESPACE" in error_lines(bad_ns.stderr)[0]
    bad_host = cli("preflight", "--model", "gold", "-d", str(dataset),
                   env={"DOCKER_HOST": "not-an-address"})
    assert bad_host.returncode == 2, bad_host.stderr
    assert len(error_lines(bad_host.stderr)) == 1 and "DOCKER_HOST" in error_lines(bad_host.stderr)[0]


def test_stopped_engine_exits_4_with_one_line(workspace: Path, tmp_path: Path) -> None:
    dataset = _tiny_dataset(workspace / "d.jsonl")
    result = cli("preflight", "--model", "gold", "-d", str(dataset),
                 env={"DOCKER_HOST": f"unix://{tmp_path / 'stopped.sock'}"})
    assert result.returncode == 4, result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "start Docker" in lines[0], result.stderr
    assert "✖ docker engine" in result.stderr + result.stdout
    # The engine could not say which images it has: nothing may claim the registries are not needed.
    assert "not needed" not in result.stderr + result.stdout
    assert "network: registry" in result.stderr + result.stdout


# -- real engine, registry and harness -------------------------------------------------------------------

docker = pytest.mark.docker


@docker
def test_smoke_runs_once_then_is_up_to_date(workspace: Path, engine: DockerEngine,
                                            instance_dataset: InstanceDataset) -> None:
    iid = instance_dataset.hub_ids[0]
    graph = make_graph(workspace, instance_dataset.path, [iid])
    run_graph(graph, ["preflight"])
    steps = ["preflight:system", "preflight:image", "preflight:smoke"]
    assert [t for t in graph.record.executed if t.startswith("preflight:")] == steps
    smoke = json.loads((workspace / ".swebench/preflight/smoke.json").read_text())
    assert smoke["resolved"] and smoke["instance_id"] == iid and smoke["image"] == instance_dataset.row(iid)["image"]
    assert any(line.startswith("✔ docker engine") for line in graph.progress.lines)
    assert any(line.startswith("✔ docker command") for line in graph.progress.lines)

    again = make_graph(workspace, instance_dataset.path, [iid])
    run_graph(again, ["preflight"])
    assert again.record.executed == [] and sorted(again.record.up_to_date) == sorted(["dataset", *steps])
    # The engine now confirms the image is present: only then is the registry "not needed".
    details = [c.detail for c in preflight.run_checks(again.settings, again.rows()).checks]
    assert "not needed: the engine has all 1 selected image(s)" in details


@docker
def test_fallback_image_is_evaluated(workspace: Path, engine: DockerEngine, instance_dataset: InstanceDataset,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEBENCH_FALLBACK_NAMESPACE", instance_dataset.fallback_namespace)
    graph = make_graph(workspace, instance_dataset.path, [FALLBACK_ONLY], interactive=True)
    run_graph(graph, ["preflight"])
    image = json.loads((workspace / ".swebench/preflight/image.json").read_text())
    assert image["how"] == "fallback" and image["source"] == instance_dataset.fallback_images[FALLBACK_ONLY]
    assert json.loads((workspace / ".swebench/preflight/smoke.json").read_text())["resolved"]
    assert (workspace / ".env").read_text().count("SWEBENCH_DOCKER_NAMESPACE=") == 1

    # The namespace now comes from `.env`: same namespace, same image, so nothing reruns.
    again = make_graph(workspace, instance_dataset.path, [FALLBACK_ONLY], interactive=True)
    run_graph(again, ["preflight"])
    assert again.record.executed == []
    assert (workspace / ".env").read_text().count("SWEBENCH_DOCKER_NAMESPACE=") == 1


@docker
def test_disk_below_need_is_a_warning(workspace: Path, engine: DockerEngine, instance_dataset: InstanceDataset,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preflight, "IMAGE_BYTES", 10 ** 15)  # 1 PB per image: no disk has that
    graph = make_graph(workspace, instance_dataset.path, instance_dataset.hub_ids)
    run_graph(graph, ["preflight:system"])
    disk = next(line for line in graph.progress.lines if "disk:" in line)
    assert disk.startswith("✖ disk:") and "(warning)" in disk
    assert f"{len(instance_dataset.hub_ids)} image(s) to pull need about" in disk and "GiB free at" in disk
    assert "preflight:system" in graph.record.executed


@docker
def test_arm64_selection_is_shown(workspace: Path, engine: DockerEngine, instance_dataset: InstanceDataset,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEBENCH_ARCH", "arm64")
    report = preflight.run_checks(load_settings(workspace), [])
    arch = next(c for c in report.checks if c.name == "arch")
    assert arch.ok and arch.detail.startswith("arm64 (SWEBENCH_ARCH") and "DOCKER_DEFAULT_PLATFORM" in arch.detail


@docker
def test_harness_failure_names_the_log_and_its_tail(workspace: Path, engine: DockerEngine,
                                                    instance_dataset: InstanceDataset) -> None:
    """The image pulls, but the instance's patch does not apply: the smoke test fails with the log."""
    iid = instance_dataset.hub_ids[1]
    rows = [{**instance_dataset.row(iid), "patch": instance_dataset.broken[iid]}]
    dataset = instance_dataset.write(workspace / "broken.jsonl", rows=rows)
    graph = make_graph(workspace, dataset, [iid])
    with pytest.raises(EngineError) as err:
        run_graph(graph, ["preflight"])
    assert "smoke test" in err.value.message and err.value.exit_code == 4
    first, *tail = err.value.detail.splitlines()
    log = Path(first.removeprefix("log: "))
    assert first.startswith("log: ") and log.is_file() and tail
    assert tail[-1] in log.read_text()
    assert engine.has_image(rows[0]["image"])


@docker
def test_cli_json_is_one_document(workspace: Path, engine: DockerEngine, instance_dataset: InstanceDataset) -> None:
    iid = instance_dataset.hub_ids[0]
    args = ("preflight", "--json", "--model", "gold", "-d", str(instance_dataset.path), "--instance-ids", iid)
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    document = json.loads(first.stdout)
    assert document["ok"] and document["error"] is None
    names = {c["name"]: c for c in document["checks"]}
    assert names["docker engine"]["ok"] and names["harness"]["ok"] and names["docker command"]["ok"]
    assert document["image"]["image"] == instance_dataset.row(iid)["image"] and not document["image"]["cached"]
    assert document["smoke"]["resolved"] and document["key"] == {"skipped": "gold patches or given predictions need no model"}

    second = cli(*args)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert again["tasks"]["executed"] == [] and again["smoke"]["cached"] and again["checks"] == document["checks"]


@docker
def test_cli_human_output_and_fallback_failure(workspace: Path, engine: DockerEngine,
                                               instance_dataset: InstanceDataset) -> None:
    """Without the fallback namespace the fallback-only instance cannot be pulled: exit 4, one line."""
    result = cli("preflight", "--model", "gold", "-d", str(instance_dataset.path), "--instance-ids", FALLBACK_ONLY,
                 env={"SWEBENCH_FALLBACK_NAMESPACE": f"{instance_dataset.fallback_namespace}-none"})
    assert result.returncode == 4, result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "SWEBENCH_DOCKER_NAMESPACE" in lines[0] and "not found" in lines[0]
    assert "✔ docker engine" in result.stderr + result.stdout
    assert not (workspace / ".env").exists()
    assert fallback_image(FALLBACK_ONLY, engine.arch, instance_dataset.fallback_namespace) not in result.stderr


@docker
def test_run_preflights_before_evaluating_and_only_once(workspace: Path, engine: DockerEngine,
                                                        instance_dataset: InstanceDataset) -> None:
    iid = instance_dataset.hub_ids[0]
    args = ("run", "--json", "--model", "gold", "-d", str(instance_dataset.path), "--instance-ids", iid)
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    executed = json.loads(first.stdout)["tasks"]["executed"]
    assert {"preflight:system", "preflight:image", "preflight:smoke", "evaluate"} <= set(executed)
    assert executed.index("preflight:smoke") < executed.index("evaluate")

    again = cli(*args)
    assert again.returncode == 0, again.stderr
    tasks = json.loads(again.stdout)["tasks"]
    assert tasks["executed"] == [] and {"preflight:system", "preflight:smoke", f"image:{iid}"} <= set(tasks["up_to_date"])


@docker
def test_doit_preflight_on_the_saved_defaults(workspace: Path, engine: DockerEngine,
                                              instance_dataset: InstanceDataset) -> None:
    (workspace / ".env").write_text(f"SWEBENCH_DATASET={instance_dataset.path}\nSWEBENCH_MODEL=gold\n"
                                    "SWEBENCH_COUNT=1\n")
    first = cli("doit", "preflight")
    assert first.returncode == 0, first.stdout + first.stderr
    assert ".  preflight:smoke" in first.stdout
    again = cli("doit", "preflight")
    assert again.returncode == 0 and "-- preflight:smoke" in again.stdout and "-- preflight:system" in again.stdout


@docker
def test_agent_mode_checks_the_engine_even_for_sb_cli(lite, sbcli_server, docker_engine: DockerEngine,
                                                      ollama_server, provider_env) -> None:
    """The agent works in the instance image, so hosted evaluation does not spare it the engine:
    without one, preflight fails on it (the same selection without the agent passes); with the
    real engine it passes, and the harness, which only a local evaluation needs, is not checked."""
    args = ("preflight", "--no-input", "--json", "--backend", "sb-cli", "-d", "lite", "--provider", "ollama",
            "--model", "llama3.2:1b")
    hosted = cli(*args, env={**provider_env, **NO_DOCKER})
    assert hosted.returncode == 0, hosted.stderr
    assert "docker engine" not in {c["name"] for c in json.loads(hosted.stdout)["checks"]}

    stopped = cli(*args, "--agent", "mini-swe-agent", env={**provider_env, **NO_DOCKER})
    assert stopped.returncode == 4, stopped.stderr
    document = json.loads(stopped.stdout)
    checks = {c["name"]: c for c in document["checks"]}
    assert not checks["docker engine"]["ok"] and "start Docker" in document["error"]["fix"]
    assert len(error_lines(stopped.stderr)) == 1

    running = cli(*args, env={**provider_env, "SWEBENCH_AGENT": "mini-swe-agent"})  # saved, as setup saves it
    assert running.returncode == 0, running.stderr
    document = json.loads(running.stdout)
    checks = {c["name"]: c for c in document["checks"]}
    assert checks["docker engine"]["ok"] and checks["docker command"]["ok"]
    assert checks["harness"]["detail"] == "not needed: evaluation is not local"
    assert "preflight:service" in document["tasks"]["executed"] + document["tasks"]["up_to_date"]
    assert "preflight:smoke" not in document["tasks"]["executed"]
