"""Agent mode through the real parts: the real mini-swe-agent drives the real DockerEnvironment
on the suite's instance images, our providers (loopback servers playing a scripted agent) are
its model, and the real harness scores what it submits."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from swebench_tasks.agent.runner import LABEL, Limits, leftovers, remove_leftovers, run_instance, workdir_label
from swebench_tasks.errors import AuthError
from swebench_tasks.providers import get_provider
from tests.support.providers import KEYS, Failure, fix_and_submit, scripted_agent
from tests.test_harness_real import run_harness

pytestmark = pytest.mark.docker
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-3-haiku-20240307", "ollama": "llama3.2:1b",
          "openrouter": "openai/gpt-4o-mini", "huggingface": "meta-llama/Llama-3.1-8B-Instruct"}


@pytest.fixture
def agent_env(workspace, provider_servers, provider_env, monkeypatch, docker_engine, instance_dataset):
    """Providers pointed at their servers; the instance images pulled by a test are removed after."""
    for variable, value in provider_env.items():
        monkeypatch.setenv(variable, value)
    yield workspace
    docker_engine.remove_images(*(instance_dataset.row(i)["image"] for i in instance_dataset.hub_ids))


def processes_mentioning(secret: str) -> list[str]:
    """Command lines (of every process on the machine) that contain `secret`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if entry.name.isdigit() and secret.encode() in argv:
            found.append(argv.replace(b"\0", b" ").decode(errors="replace"))
    return found


def changes(patch: str) -> list[str]:
    """A diff's file headers and changed lines (git adds `index` lines and hunk context)."""
    return [line for line in patch.splitlines() if line.startswith(("+", "-", "diff --git"))]


def run(name: str, instance: dict, workdir: Path, **kwargs):
    provider = get_provider(name, key=KEYS.get(name))
    return run_instance(provider, MODELS[name], instance, instance["image"], workdir=workdir,
                        trajectory=workdir / "trajectories" / f"{instance['instance_id']}.json", **kwargs)


def test_agent_fixes_instances_and_the_harness_resolves_them(agent_env, provider_servers, docker_engine,
                                                             instance_dataset, capfd, caplog):
    """openai and anthropic by tool calls, an ollama model without tools by the text protocol;
    the key is never in a container, an argv or a trajectory; no container is left."""
    workdir = agent_env
    caplog.set_level(logging.DEBUG)
    provider_servers["ollama"].no_tools.add(MODELS["ollama"])
    names = ["openai", "anthropic", "ollama"]
    ids = instance_dataset.hub_ids[:len(names)]
    steps_seen: dict[str, list[tuple[int, float, str]]] = {}
    inspected: list[dict] = []

    def on_step(name: str):
        def callback(step: int, cost: float, command: str) -> None:
            steps_seen.setdefault(name, []).append((step, cost, command))
            ids_now = leftovers(workdir)
            assert len(ids_now) == 1  # the instance's own container, with our label
            inspected.extend(json.loads(docker_engine.docker("inspect", *ids_now).stdout))
            assert not processes_mentioning(KEYS["openai"]) and not processes_mentioning(KEYS["anthropic"])
        return callback

    records = {}
    for name, instance_id in zip(names, ids):
        row = instance_dataset.row(instance_id)
        provider_servers[name].on_chat = scripted_agent(fix_and_submit(instance_dataset.gold[instance_id]))
        records[instance_id] = run(name, row, workdir, on_step=on_step(name))

    protocols = {name: records[i].protocol for name, i in zip(names, ids)}
    assert protocols == {"openai": "tools", "anthropic": "tools", "ollama": "text"}
    for name, instance_id in zip(names, ids):
        record = records[instance_id]
        assert (record.exit_status, record.steps) == ("submitted", 4)
        assert changes(record.patch) == changes(instance_dataset.gold[instance_id])
        assert [s[0] for s in steps_seen[name]] == [1, 2, 3, 4]
        assert steps_seen[name][-1][2].startswith("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")
        assert record.step_limit == 250 and record.cost_limit == 3.0
        trajectory = Path(record.trajectory).read_text()
        assert json.loads(trajectory)["info"]["exit_status"] == "Submitted"
        assert not any(key in trajectory for key in KEYS.values())
    # openai's catalog knows gpt-4o-mini's price; ollama is free
    assert records[ids[0]].cost > 0 and records[ids[2]].cost == 0
    # the servers saw the real shapes: tools declared for tool models, none for the text one
    assert all(r.body.get("tools") for r in provider_servers["anthropic"].requests)
    text_requests = [r for r in provider_servers["ollama"].requests if r.path == "/api/chat"]
    assert text_requests[0].body.get("tools") and not text_requests[-1].body.get("tools")
    assert "mswea_bash_command" in text_requests[-1].body["messages"][0]["content"]

    assert len({c["Id"] for c in inspected}) == len(names)  # one container per instance
    for container in inspected:
        assert container["Name"].startswith(f"/swebench-agent-{workdir_label(workdir)}-")
        assert container["Config"]["Labels"][LABEL] == workdir_label(workdir)
        assert container["Config"]["Image"] in {instance_dataset.row(i)["image"] for i in ids}
        assert not any(key in json.dumps(container) for key in KEYS.values())
    assert leftovers(workdir) == []
    assert not docker_engine.docker("ps", "-aq").stdout.strip()
    assert capfd.readouterr().out == ""  # mini-swe-agent printed nothing to stdout
    assert "Starting container with command" in caplog.text and not any(key in caplog.text for key in KEYS.values())

    predictions = instance_dataset.write_predictions(workdir / "preds.jsonl",
                                                     {i: records[i].patch for i in ids})
    dataset = instance_dataset.write(workdir / "dataset.jsonl", ids)
    harness = run_harness(workdir, dataset, str(predictions), "agent", "acme/test-model")
    assert harness.summary["resolved_ids"] == sorted(ids), harness.logs(*ids)


@pytest.mark.parametrize("name", ["openrouter", "huggingface", "ollama"])
def test_tool_calls_through_the_other_providers(name, agent_env, provider_servers, instance_dataset):
    instance_id = instance_dataset.hub_ids[0]
    provider_servers[name].on_chat = scripted_agent(fix_and_submit(instance_dataset.gold[instance_id]))
    record = run(name, instance_dataset.row(instance_id), agent_env)
    assert (record.exit_status, record.steps, record.protocol) == ("submitted", 4, "tools")
    assert changes(record.patch) == changes(instance_dataset.gold[instance_id])
    assert leftovers(agent_env) == []


def test_step_limit_stops_the_agent(agent_env, openai_server, instance_dataset):
    instance_id = instance_dataset.hub_ids[0]
    openai_server.on_chat = scripted_agent(["ls"])
    record = run("openai", instance_dataset.row(instance_id), agent_env, limits=Limits(step_limit=2))
    assert (record.exit_status, record.steps, record.patch) == ("step_limit", 2, "")
    assert len(openai_server.paths("POST")) == 2
    assert leftovers(agent_env) == []


def test_cost_limit_stops_the_agent(agent_env, openai_server, instance_dataset):
    instance_id = instance_dataset.hub_ids[0]
    openai_server.on_chat = scripted_agent(["ls"])
    record = run("openai", instance_dataset.row(instance_id), agent_env, limits=Limits(cost_limit=1e-9))
    assert (record.exit_status, record.steps) == ("cost_limit", 1)


def test_replies_without_a_command_end_as_an_error_record(agent_env, openai_server, instance_dataset):
    """Three replies in a row without a tool call: mini-swe-agent gives up; a finished record."""
    openai_server.on_chat = lambda body: "I would rather not run anything."
    record = run("openai", instance_dataset.row(instance_dataset.hub_ids[0]), agent_env)
    assert (record.exit_status, record.steps, record.patch) == ("error", 3, "")
    assert record.cost > 0  # the refused replies were billed all the same
    assert "Tool call error" in json.dumps(openai_server.requests[-1].body["messages"])


def test_a_crash_mid_instance_raises_and_the_rerun_finishes(agent_env, openai_server, instance_dataset):
    instance_id = instance_dataset.hub_ids[0]
    row = instance_dataset.row(instance_id)
    agent = scripted_agent(fix_and_submit(instance_dataset.gold[instance_id]))

    def revoked_at_step_3(body: dict):
        if sum(m["role"] == "assistant" for m in body["messages"]) == 2:
            return Failure(401, message="Incorrect API key provided")
        return agent(body)

    openai_server.on_chat = revoked_at_step_3
    with pytest.raises(AuthError):
        run("openai", row, agent_env)
    assert leftovers(agent_env) == []
    openai_server.on_chat = agent
    record = run("openai", row, agent_env)
    assert record.exit_status == "submitted" and changes(record.patch) == changes(instance_dataset.gold[instance_id])


KILLED = textwrap.dedent("""
    import sys
    from pathlib import Path
    from swebench_tasks.agent.runner import run_instance
    from swebench_tasks.providers import get_provider
    row = {"instance_id": "x", "problem_statement": "wait"}
    run_instance(get_provider("openai", key=sys.argv[1]), "gpt-4o-mini", row, sys.argv[2],
                 workdir=Path.cwd(), trajectory=Path.cwd() / "trajectory.json")
""")


def start_agent_process(openai_server, instance_dataset) -> tuple[subprocess.Popen, list[str]]:
    """A process running one instance whose agent waits in `sleep 50`; returns it once its
    container is up, with that container's id."""
    image = instance_dataset.row(instance_dataset.hub_ids[0])["image"]
    openai_server.on_chat = scripted_agent(["sleep 50"])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen([sys.executable, "-c", KILLED, KEYS["openai"], image], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while not openai_server.requests and process.poll() is None:
        time.sleep(0.2)
    time.sleep(0.5)  # the first command is running
    if process.poll() is not None:
        pytest.fail(process.stderr.read().decode()[-2000:])
    return process, leftovers(Path.cwd())


def test_interrupt_removes_the_container(agent_env, openai_server, instance_dataset):
    process, running = start_agent_process(openai_server, instance_dataset)
    try:
        assert len(running) == 1
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode != 0 and b"KeyboardInterrupt" in err
    assert leftovers(agent_env) == []


def test_kill_9_leaves_a_labelled_container_that_the_next_run_removes(agent_env, openai_server, instance_dataset):
    process, left = start_agent_process(openai_server, instance_dataset)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(left) == 1
    assert leftovers(agent_env) == left  # nobody cleaned up after the kill
    assert remove_leftovers(agent_env) == left
    assert leftovers(agent_env) == []
