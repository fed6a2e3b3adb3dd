"""`swebench run --agent mini-swe-agent` end to end: the real agent in the instances' images,
the loopback OpenAI server playing it, the real harness scoring; a crash, the rerun, leftovers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swebench_tasks.agent.runner import LABEL, leftovers, workdir_label
from tests.support.providers import KEYS, Failure, fix_and_submit, scripted_agent
from tests.test_run import error_lines, swebench

pytestmark = pytest.mark.docker


def chats_for(server, row: dict) -> int:
    first_line = row["problem_statement"].splitlines()[0]
    return sum(1 for r in server.requests
               if r.path.endswith("/chat/completions") and first_line in json.dumps(r.body))


def test_agent_run_crash_rerun_and_up_to_date(workspace, instance_dataset, docker_engine, openai_server,
                                              provider_env, monkeypatch):
    for var, value in provider_env.items():
        monkeypatch.setenv(var, value)
    first, second = instance_dataset.hub_ids[:2]
    rows = {i: instance_dataset.row(i) for i in (first, second)}
    dataset = instance_dataset.write(Path("instances.jsonl"), [first, second])
    agents = {i: scripted_agent(fix_and_submit(instance_dataset.gold[i])) for i in rows}
    crash = {"on": True}
    order: list[str] = []  # instances in the order the run starts them; the second one crashes

    def reply(body: dict):
        prompt = json.dumps(body["messages"])
        iid = next(i for i, row in rows.items() if row["problem_statement"].splitlines()[0] in prompt)
        order.extend([iid] if iid not in order else [])
        if iid == order[-1] and len(order) == 2 and crash["on"] and \
                sum(m["role"] == "assistant" for m in body["messages"]) == 2:
            return Failure(401, message="Incorrect API key provided")
        return agents[iid](body)

    openai_server.on_chat = reply
    args = ("run", "--no-input", "--json", "--no-preflight", "--provider", "openai", "--model", "gpt-4o-mini",
            "-d", str(dataset), "--max-workers", "1")
    try:
        out = swebench(*args, "--agent", "mini-swe-agent", timeout=900)
        assert out.returncode == 3, out.stdout + out.stderr
        assert not out.stdout.strip() or "error" in json.loads(out.stdout)  # no banner, no log on stdout
        assert len(error_lines(out.stderr)) == 1
        first, second = order
        assert (chats_for(openai_server, rows[first]), chats_for(openai_server, rows[second])) == (4, 3)
        assert leftovers(Path.cwd()) == []
        assert "step 4" in out.stderr and "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT" in out.stderr
        assert "at most $6.00 ($3 and 250 steps per instance)" in out.stderr  # the shipped config's limits

        # a container a killed run left behind, carrying our label: the next run removes it
        stray = docker_engine.docker("run", "-d", "--label", f"{LABEL}={workdir_label(Path.cwd())}",
                                     rows[first]["image"], "sleep", "600").stdout.strip()
        crash["on"] = False
        out = swebench(*args, timeout=900, env={"SWEBENCH_AGENT": "mini-swe-agent"})
        assert out.returncode == 0, out.stderr
        summary = json.loads(out.stdout)
        assert (chats_for(openai_server, rows[first]), chats_for(openai_server, rows[second])) == (4, 3 + 4)
        assert "generate:" + second in summary["tasks"]["executed"]
        assert "generate:" + first in summary["tasks"]["up_to_date"]  # the finished one was kept
        assert summary["agent"] == "mini-swe-agent" and summary["protocols"] == ["tools"]
        assert summary["resolved_ids"] == sorted(rows)
        assert summary["steps"] == 8 and summary["cost_usd"] > 0
        for iid in rows:
            outcome = summary["instances"][iid]
            assert (outcome["exit_status"], outcome["steps"], outcome["protocol"]) == ("submitted", 4, "tools")
            assert outcome["cost_usd"] > 0
            trajectory = Path(summary["results_dir"], iid, "trajectory.json").read_text()
            assert json.loads(trajectory)["info"]["exit_status"] == "Submitted"
            assert KEYS["openai"] not in trajectory
        assert stray[:12] not in docker_engine.docker("ps", "-aq").stdout
        assert leftovers(Path.cwd()) == []

        shown = swebench("report", "--no-input", summary["run_id"])
        assert shown.returncode == 0 and "mini-swe-agent (tools)" in shown.stdout
        assert "8 (submitted 2)" in shown.stdout

        again = swebench(*args, "--agent", "mini-swe-agent", timeout=900)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["tasks"]["executed"] == []
        assert chats_for(openai_server, rows[first]) + chats_for(openai_server, rows[second]) == 11

        changed = swebench(*args, "--agent", "mini-swe-agent", "--step-limit", "2", "--budget", "1e-9",
                           timeout=900)
        assert changed.returncode == 0, changed.stderr
        assert "at most $" in changed.stderr and "budget $1e-09" in changed.stderr  # the forecast
        limited = json.loads(changed.stdout)
        # the first instance spends the budget; the second is not started (and stays stale)
        assert sorted(o["exit_status"] for o in limited["instances"].values()) == ["not_started", "step_limit"]
        assert "budget ($1e-09) is spent" in changed.stderr
        assert limited["resolved"] == 0 and limited["empty_patches"] == 2
        resumed = swebench(*args, "--agent", "mini-swe-agent", "--step-limit", "2", timeout=900)
        assert resumed.returncode == 0, resumed.stderr
        assert [t for t in json.loads(resumed.stdout)["tasks"]["executed"] if t.startswith("generate:")] == [
            next(f"generate:{i}" for i, o in limited["instances"].items() if o["exit_status"] == "not_started")]
    finally:
        docker_engine.remove_images(*(row["image"] for row in rows.values()))


def test_ctrl_c_mid_instance_leaves_no_container_and_no_record(workspace, instance_dataset, docker_engine,
                                                               openai_server, provider_env, monkeypatch):
    import signal
    import subprocess
    import sys
    import time

    for var, value in provider_env.items():
        monkeypatch.setenv(var, value)
    iid = instance_dataset.hub_ids[0]
    dataset = instance_dataset.write(Path("instances.jsonl"), [iid])
    openai_server.on_chat = scripted_agent(["sleep 50"])
    process = subprocess.Popen(
        [sys.executable, "-m", "swebench_tasks", "run", "--no-input", "--json", "--no-preflight", "--agent",
         "mini-swe-agent", "--provider", "openai", "--model", "gpt-4o-mini", "-d", str(dataset)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        while not openai_server.paths("POST") and process.poll() is None:  # the agent's first step
            time.sleep(0.2)
        time.sleep(0.5)
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        assert len(leftovers(Path.cwd())) == 1
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
        assert process.returncode == 130, err.decode()[-2000:]
        assert leftovers(Path.cwd()) == []
        assert not list(Path(".swebench/agent").rglob(f"{iid}.json"))  # not recorded: the next run retries
    finally:
        process.kill()
        docker_engine.remove_images(instance_dataset.row(iid)["image"])


def test_setup_saves_agent_mode_and_run_uses_it(workspace, instance_dataset, docker_engine, openai_server,
                                                provider_env, monkeypatch):
    """`setup --no-input --agent mini-swe-agent` writes SWEBENCH_AGENT; a plain `run` then works as
    the agent, under its own default run id (single-shot's results stay where they were)."""
    for var, value in provider_env.items():
        monkeypatch.setenv(var, value)
    iid = instance_dataset.hub_ids[0]
    dataset = instance_dataset.write(Path("instances.jsonl"), [iid])
    openai_server.on_chat = scripted_agent(fix_and_submit(instance_dataset.gold[iid]))
    setup = swebench("setup", "--no-input", "--json", "--provider", "openai", "--model", "gpt-4o-mini",
                     "-d", str(dataset), "--agent", "mini-swe-agent")
    assert setup.returncode == 0, setup.stderr
    assert json.loads(setup.stdout)["saved"]["SWEBENCH_AGENT"] == "mini-swe-agent"
    from dotenv import dotenv_values

    assert dotenv_values(".env", interpolate=False)["SWEBENCH_AGENT"] == "mini-swe-agent"
    try:
        out = swebench("run", "--no-input", "--json", "--no-preflight", "--generate-only", timeout=900)
        assert out.returncode == 0, out.stderr
        summary = json.loads(out.stdout)
        assert summary["agent"] == "mini-swe-agent" and summary["instances"][iid]["exit_status"] == "submitted"
        assert summary["run_id"] == "instances-gpt-4o-mini-mini-swe-agent"
        assert "Agent mode (mini-swe-agent) on 1 instance(s) with gpt-4o-mini: at most $3.00" in out.stderr
        prediction = json.loads(Path(summary["predictions_path"]).read_text().splitlines()[0])
        assert prediction["instance_id"] == iid and prediction["model_patch"].strip()
        assert chats_for(openai_server, instance_dataset.row(iid)) == 4
        assert leftovers(Path.cwd()) == []
    finally:
        docker_engine.remove_images(instance_dataset.row(iid)["image"])
