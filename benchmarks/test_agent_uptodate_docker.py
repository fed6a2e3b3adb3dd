"""Agent mode: an up-to-date rerun with `SWEBENCH_AGENT=mini-swe-agent` saved against the same
rerun in single-shot mode (both fully cached: no model call, no container, no harness), in wall
time and in the modules each imports. Prints, asserts only that nothing ran:

    python -m pytest benchmarks/test_agent_uptodate_docker.py -s -q
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from benchmarks.bench_cli import SWEBENCH, timeit
from tests.support.providers import fix_and_submit, scripted_agent
from tests.test_run import swebench
from tests.test_run_docker import gold_for_prompt


def modules(args: list[str], env: dict) -> set[str]:
    out = subprocess.run([*SWEBENCH[:1], "-X", "importtime", *SWEBENCH[1:], *args], env=env,
                         capture_output=True, text=True)
    return {line.split("|")[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.docker
def test_agent_uptodate_rerun(workspace, instance_dataset, docker_engine, openai_server, provider_env, monkeypatch):
    for var, value in provider_env.items():
        monkeypatch.setenv(var, value)
    ids = instance_dataset.hub_ids
    data = instance_dataset.write(Path("hub.jsonl"), ids)
    agents = {i: scripted_agent(fix_and_submit(instance_dataset.gold[i])) for i in ids}
    single = gold_for_prompt(instance_dataset)

    def reply(body: dict):
        if body.get("tools"):
            prompt = json.dumps(body["messages"])
            return agents[next(i for i in ids if instance_dataset.row(i)["problem_statement"].splitlines()[0]
                               in prompt)](body)
        return single(body)

    openai_server.on_chat = reply
    base = ["run", "--no-input", "--json", "--no-preflight", "--provider", "openai", "--model", "gpt-4o-mini",
            "-d", str(data)]
    runs = {"none": ["--context", "statement", "--run-id", "single"], "mini-swe-agent": ["--run-id", "agent"]}
    env = dict(os.environ)
    timings, imported = {}, {}
    for mode, extra in runs.items():
        mode_env = {**env, "SWEBENCH_AGENT": mode}
        first = swebench(*base, *extra, env={"SWEBENCH_AGENT": mode}, timeout=900)
        assert first.returncode == 0, first.stderr
        again = swebench(*base, *extra, env={"SWEBENCH_AGENT": mode}, timeout=900)
        assert json.loads(again.stdout)["tasks"]["executed"] == []
        timings[mode] = timeit([*SWEBENCH, *base, *extra], Path.cwd(), mode_env)
        imported[mode] = modules([*base, *extra], mode_env)
    help_modules = modules(["--help"], env)
    print(f"\nup-to-date rerun, {len(ids)} instances: single-shot {timings['none'][0] * 1000:.0f} "
          f"±{timings['none'][1] * 1000:.0f} ms; agent mode {timings['mini-swe-agent'][0] * 1000:.0f} "
          f"±{timings['mini-swe-agent'][1] * 1000:.0f} ms")
    print(f"modules imported: single-shot {len(imported['none'])}, agent mode {len(imported['mini-swe-agent'])}; "
          f"only in agent mode: {sorted(imported['mini-swe-agent'] - imported['none'])}; "
          f"minisweagent/litellm in agent rerun: "
          f"{sorted(m for m in imported['mini-swe-agent'] if m.startswith(('minisweagent', 'litellm')))}")
    print(f"swebench --help imports {len(help_modules)} modules; agent modules among them: "
          f"{sorted(m for m in help_modules if 'agent' in m)}")
    docker_engine.remove_images(*(instance_dataset.row(i)["image"] for i in ids))
