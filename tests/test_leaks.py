"""A key typed once never lands on disk or in a child's argv, through a whole real run."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.providers import KEYS
from tests.test_cli_keys import assert_no_leak, cli, one_json  # noqa: F401 (cli is a fixture)
from tests.test_run_docker import gold_for_prompt

pytestmark = [pytest.mark.docker, pytest.mark.keychain]


def argv_with(needle: bytes) -> list[str]:
    """Every process on the machine whose command line holds `needle`."""
    hits = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if needle in cmdline.read_bytes():
                hits.append(cmdline.parent.name)
        except OSError:
            continue
    return hits


def test_key_from_the_keychain_through_a_full_run_leaks_nowhere(cli, workspace, openai_server, instance_dataset,
                                                                docker_engine):
    key = KEYS["openai"]
    assert cli("secrets", "set", "openai", "--stdin", input=f"  Bearer {key}\n").returncode == 0
    openai_server.on_chat = gold_for_prompt(instance_dataset)
    data = instance_dataset.write(workspace / "hub.jsonl", instance_dataset.hub_ids)
    seen: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.extend(argv_with(key.encode()))
            done.wait(0.05)

    canary = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", f"canary-{key}"])
    try:  # the watch sees argv (once the child has exec'd)
        found = []
        for _ in range(200):
            found = argv_with(f"canary-{key}".encode())
            if found:
                break
            time.sleep(0.05)
        assert found == [str(canary.pid)]
    finally:
        canary.kill()
        canary.wait()
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        out = cli("run", "--json", "--no-preflight", "--provider", "openai", "--model", "gpt-4o-mini",
                  "-d", str(data), extra={"DOCKER_HOST": docker_engine.host})
    finally:
        done.set()
        watcher.join()
    summary = one_json(out)
    assert summary["resolved"] == len(instance_dataset.hub_ids)
    assert seen == []
    assert key not in out.stdout + out.stderr
    assert_no_leak(key, workspace, cli.home, workspace.parent / "config")
    assert openai_server.requests[-1].headers["authorization"] == f"Bearer {key}"  # it was used, from the keychain
    for path in ("report", "--json"), ("clean", "--runs", "--dry-run"):
        assert key not in cli(*path).stdout


def test_harness_child_gets_no_provider_key(monkeypatch):
    from swebench_tasks.harness import child_env

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    monkeypatch.setenv("SWEBENCH_API_KEY", "sb-secret")
    env = child_env()
    assert "OPENAI_API_KEY" not in env and "SWEBENCH_API_KEY" not in env
    probe = subprocess.run([sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"],
                           env=env, capture_output=True, text=True)
    assert "sk-test-secret" not in probe.stdout and json.loads(probe.stdout)
