"""`-d lite`, the default dataset, through the real CLI and `datasets.load_dataset` against the
Hub's dataset API on loopback (tests/support/hfhub.py); offline and unreachable-Hub behaviour.

The runs that need no Docker engine stop before evaluation (`--generate-only`); the last test
evaluates the served rows with the real harness on the real engine.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from swebench_tasks.datasets import cache_path
from tests.support.engine import INSTANCES, DockerEngine, InstanceDataset
from tests.support.hfhub import COLUMNS, LITE, HfHubServer, SilentHost, closed_port, lite_rows
from tests.test_run import DIFF, chats, error_lines, swebench

GOLD = ("run", "--no-input", "--json", "--model", "gold", "--generate-only", "-d", "lite")
TEST_PARQUET = f"/datasets/{LITE}/resolve/{{sha}}/data/test-00000-of-00001.parquet"


def lite_cache(workdir: Path, split: str = "test") -> Path:
    return cache_path(workdir / ".swebench", "lite", split, workdir)


def imports_datasets(stderr: str) -> bool:
    """Whether a run started with PYTHONPROFILEIMPORTTIME=1 imported Hugging Face `datasets`."""
    return any(line.rsplit("|", 1)[-1].strip() == "datasets" for line in stderr.splitlines()
               if line.startswith("import time:"))


def run_gold(*args: str, env: dict | None = None) -> dict:
    out = swebench(*GOLD, *args, env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_lite_is_fetched_through_load_dataset_then_read_from_the_cache(hf_env, hf_hub: HfHubServer, workspace):
    first = swebench(*GOLD, "--count", "1", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert first.returncode == 0, first.stderr
    assert imports_datasets(first.stderr)
    summary = json.loads(first.stdout)
    assert summary["dataset"] == "lite" and summary["selected"] == 1
    sha = hf_hub.repos[LITE].sha
    assert TEST_PARQUET.format(sha=sha) in hf_hub.downloads()
    assert Path(os.environ["HF_HOME"], "datasets").is_dir()  # the `datasets` cache, private to this test

    rows = [json.loads(line) for line in lite_cache(workspace).read_text().splitlines()]
    assert rows == lite_rows() and set(rows[0]) == set(COLUMNS)
    prediction = json.loads(Path(summary["predictions_path"]).read_text())
    assert prediction["instance_id"] == INSTANCES[0].instance_id
    assert prediction["model_patch"] == INSTANCES[0].gold_patch

    # A later run with another selection reads .swebench/: no Hub request, no `datasets` import,
    # even with the Hub unreachable and no Hugging Face cache at all.
    hf_hub.reset()
    again = swebench(*GOLD, "--count", "3", env={"PYTHONPROFILEIMPORTTIME": "1", "HF_HUB_OFFLINE": "1",
                                                   "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}",
                                                   "HF_HOME": str(workspace / "empty-hf-home")})
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["selected"] == 3 and "dataset" in json.loads(again.stdout)["tasks"]["up_to_date"]
    assert not imports_datasets(again.stderr)
    assert hf_hub.requests == []


def test_the_built_in_default_is_lite_and_split_picks_the_hub_split(hf_env, hf_hub, workspace):
    out = swebench("run", "--no-input", "--json", "--model", "gold", "--generate-only", "--split", "dev")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["dataset"] == "lite" and summary["selected"] == 1
    assert len(lite_cache(workspace, "dev").read_text().splitlines()) == 1
    assert not lite_cache(workspace).exists()


def test_setup_lite_then_run_generates_from_the_hub_rows(hf_env, hf_hub, workspace, openai_server, provider_env,
                                                         monkeypatch):
    for var, value in provider_env.items():
        if var != "HF_ENDPOINT":  # the Hub is hf_hub here (the provider fake only checks tokens)
            monkeypatch.setenv(var, value)
    prompts: list[str] = []
    openai_server.on_chat = lambda body: prompts.append(json.dumps(body["messages"])) or DIFF
    saved = swebench("setup", "--no-input", "--provider", "openai", "--model", "gpt-4o-mini", "-d", "lite",
                     "--count", "2")
    assert saved.returncode == 0, saved.stderr
    out = swebench("run", "--no-input", "--json", "--context", "statement", "--generate-only")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["dataset"] == "lite" and summary["generated"] == 2 and chats(openai_server) == 2
    for instance in INSTANCES[:2]:
        title = instance.problem_statement.splitlines()[0]
        assert sum(title in p for p in prompts) == 1


def test_missing_dataset_on_the_hub_is_one_line_exit_2(hf_env, hf_hub):
    out = swebench(*GOLD[:-1], "SWE-bench/SWE-bench_Nope")
    assert out.returncode == 2, out.stderr
    lines = error_lines(out.stderr)
    assert len(lines) == 1 and "SWE-bench/SWE-bench_Nope" in lines[0] and "fix:" in lines[0]
    assert "Traceback" not in out.stderr


# -- offline ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("switch", ["HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"])
def test_offline_without_a_cache_is_one_line_exit_2_and_no_request(hf_env, hf_hub, workspace, switch):
    out = swebench(*GOLD, env={switch: "1"})
    assert out.returncode == 2, out.stderr
    lines = error_lines(out.stderr)
    assert len(lines) == 1 and "Traceback" not in out.stderr
    assert f"{LITE} (split test) is not in the Hugging Face cache and {switch} is set" in lines[0]
    assert f"fix: unset {switch}" in lines[0]
    assert hf_hub.requests == []
    assert not lite_cache(workspace).exists()


def test_offline_with_the_datasets_cache_works(hf_env, hf_hub, workspace, tmp_path, monkeypatch):
    run_gold("--count", "1")  # fills the Hugging Face cache (and this directory's)
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(other)
    hf_hub.reset()
    summary = run_gold("--count", "2", env={"HF_HUB_OFFLINE": "1"})
    assert summary["selected"] == 2 and hf_hub.requests == []
    assert lite_cache(other).read_text() == lite_cache(workspace).read_text()


def test_unreachable_hub_with_the_datasets_cache_works(hf_env, hf_hub, workspace, tmp_path, monkeypatch):
    run_gold("--count", "1")
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(other)
    summary = run_gold(env={"HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}"})
    assert summary["selected"] == len(INSTANCES)


def test_refused_hub_is_one_line_exit_2(hf_env, workspace):
    endpoint = f"http://127.0.0.1:{closed_port()}"
    out = swebench(*GOLD, env={"HF_ENDPOINT": endpoint})
    assert out.returncode == 2, out.stderr
    lines = error_lines(out.stderr)
    assert len(lines) == 1 and "Traceback" not in out.stderr
    assert f"cannot reach the Hugging Face Hub at {endpoint}" in lines[0] and "HF_ENDPOINT" in lines[0]
    assert not lite_cache(workspace).exists()


@pytest.mark.parametrize("drop", [True, False], ids=["drops", "hangs"])
def test_a_host_that_never_answers_is_tried_once(hf_env, workspace, drop):
    """No retry loop behind the progress line: one connection, then the one line. A hanging host
    is waited on for HF_HUB_ETAG_TIMEOUT, the bound huggingface_hub itself uses."""
    host = SilentHost(drop=drop)
    try:
        out = swebench(*GOLD, env={"HF_ENDPOINT": host.root, "HF_HUB_ETAG_TIMEOUT": "1"})
    finally:
        host.stop()
    assert out.returncode == 2, out.stderr
    lines = error_lines(out.stderr)
    assert len(lines) == 1 and f"cannot reach the Hugging Face Hub at {host.root}" in lines[0]
    assert ("timed out" in lines[0]) is not drop
    assert host.connections == 1


# -- the real harness -------------------------------------------------------------------------------

@pytest.mark.docker
def test_lite_gold_preflights_and_evaluates_for_real(hf_env, hf_hub, workspace, docker_engine: DockerEngine,
                                                     instance_dataset: InstanceDataset):
    """The rows the Hub serves are the suite's real instances. Preflight fetches them through
    `load_dataset` (then pulls and smoke-evaluates); the run reads the cache and evaluates."""
    rows = lite_rows({r["instance_id"]: r["base_commit"] for r in instance_dataset.rows})
    hf_hub.publish(LITE, {"test": rows})
    iid = instance_dataset.hub_ids[0]
    image = instance_dataset.row(iid)["image"]
    docker_engine.remove_images(image)
    selection = ("--no-input", "--json", "--model", "gold", "-d", "lite", "--instance-ids", iid)
    try:
        checked = swebench("preflight", *selection, timeout=900)
        assert checked.returncode == 0, checked.stderr
        assert TEST_PARQUET.format(sha=hf_hub.repos[LITE].sha) in hf_hub.downloads()
        assert json.loads(lite_cache(workspace).read_text().splitlines()[0])["base_commit"] == rows[0]["base_commit"]

        hf_hub.reset()
        out = swebench("run", *selection, timeout=900)
        assert out.returncode == 0, out.stderr
        summary = json.loads(out.stdout)
        assert summary["resolved_ids"] == [iid] and summary["errors"] == 0
        assert "evaluate" in summary["tasks"]["executed"]
        assert {"dataset", "preflight:smoke"} <= set(summary["tasks"]["up_to_date"])
        assert hf_hub.requests == []
    finally:
        docker_engine.remove_images(image)


@pytest.mark.parametrize("before", [None, "0"])
def test_the_offline_switch_is_set_for_the_load_only(monkeypatch, before):
    """huggingface_hub reads HF_HUB_OFFLINE at import, so the load sets it; afterwards the
    environment is as it was, and no child process (the harness) inherits the switch."""
    import sys
    import types

    from swebench_tasks import datasets

    seen = []
    fake = types.ModuleType("datasets")
    fake.load_dataset = lambda name, split: seen.append(os.environ.get("HF_HUB_OFFLINE")) or [{"instance_id": "a"}]
    monkeypatch.setitem(sys.modules, "datasets", fake)
    if before is None:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", before)
    assert datasets._load_hub("org/name", "test", offline=True) == [{"instance_id": "a"}]
    assert seen == ["1"] and os.environ.get("HF_HUB_OFFLINE") == before
