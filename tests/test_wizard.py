"""The wizard through a real terminal: home menu, Help, Quick Run, Guided Setup, Ctrl+C.

Each test drives `python -m swebench_tasks` in a pty against the provider-protocol servers
(tests/support/providers.py), the real Secret Service (tests/support/keychain.py) and, for
runs, the real Docker engine with small real instances (tests/support/engine.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.support.providers import KEYS
from tests.test_run_docker import gold_for_prompt
from tests.wizard_support import (CTRL_C, DOWN, ENTER, ESC, HANG_GUARD, Terminal, dotenv, erase,  # noqa: F401
                                  hub_dataset)


def through_checks(term: Terminal) -> None:
    """Welcome, then the automatic system checks."""
    term.answer("Press Enter to continue.", ENTER)
    term.wait("Checking your system")
    term.answer("Press Enter to continue.", ENTER)


def pick_local_dataset(term: Terminal, dataset: Path, count: str, mode: str = "2") -> None:
    """Dataset: the fourth entry (another id or a local file); then the count, and the mode
    (1: the agent, 2: one reply per instance)."""
    term.answer("Pick a dataset:", "4", ENTER)
    term.answer("Dataset id or file:", str(dataset), ENTER)
    term.answer("How many instances?", erase(), count, ENTER)
    term.answer("Pick a mode:", mode, ENTER)


def assert_clean_exit(term: Terminal, code: int) -> None:
    assert term.exit_code() == code, term.screen[-4000:]
    assert "Traceback" not in term.screen


# -- home, help, quick run without defaults, no TTY --------------------------------------------

def test_home_help_then_esc_quits(workspace):
    term = Terminal()
    term.wait("Choose:")
    term.wait("1) Quick Run")
    term.wait("4) Options: providers and profiles")
    term.press("3", ENTER)
    term.wait("Common commands:")
    term.wait("Troubleshooting:")
    term.answer("Press Enter to go back.", ENTER)
    term.answer("Choose:", ESC)
    assert_clean_exit(term, 0)
    for line in ("swebench setup", "swebench run -d lite --count 5", "docker login ghcr.io", "Provider 401"):
        assert line in term.screen
    assert not Path(".env").exists()


@pytest.mark.parametrize("clear", ["0", "1"])
def test_screens_are_cleared_only_when_asked(clear, workspace):
    term = Terminal(env={"SWEBENCH_TUI_CLEAR": clear})
    term.answer("Choose:", "3", ENTER)
    term.answer("Press Enter to go back.", ENTER)
    term.answer("Choose:", ESC)
    assert_clean_exit(term, 0)
    assert ("\x1b[2J" in term.raw.getvalue()) == (clear == "1")


def test_arrows_reach_help_too(workspace):
    term = Terminal()
    term.answer("Choose:", DOWN, ENTER)  # from the default (2) down to 3
    term.wait("Troubleshooting:")
    term.answer("Press Enter to go back.", ENTER)
    term.answer("Choose:", CTRL_C)
    assert_clean_exit(term, 130)


def test_quick_run_without_defaults_routes_to_setup(workspace):
    term = Terminal()
    term.answer("Choose:", "1", ENTER)
    term.wait("Quick Run requires a configured model. Choose Setup first.")
    term.answer("Press Enter to start Guided Setup", ENTER)
    term.wait("SWE-bench Runner Setup")
    term.answer("Press Enter to continue.", CTRL_C)
    assert_clean_exit(term, 130)
    assert not Path(".env").exists()


def test_without_a_tty_the_home_menu_never_prompts(workspace):
    out = subprocess.run([sys.executable, "-m", "swebench_tasks"], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True)
    assert out.returncode == 0 and "Usage:" in out.stdout and "Choose:" not in out.stdout
    forced = Terminal("--no-input")
    assert forced.exit_code() == 0
    assert "Usage:" in forced.screen and "Choose:" not in forced.screen


# -- Ctrl+C at several steps --------------------------------------------------------------------

@pytest.mark.parametrize("step", ["home", "source", "key", "count"])
def test_ctrl_c_leaves_cleanly(step, workspace, openai_server, keychain, keychain_env):
    term = Terminal("setup") if step != "home" else Terminal()
    if step == "home":
        term.answer("Choose:", CTRL_C)
    else:
        through_checks(term)
        term.answer("Select a compute source:", *(() if step == "source" else ("4", ENTER)))
        if step == "key":
            term.answer("Enter your OpenAI key", KEYS["openai"][:8], CTRL_C)
        elif step == "count":
            term.answer("Enter your OpenAI key", KEYS["openai"], ENTER)
            term.answer("Pick a model", "gpt-4o-mini", ENTER)
            term.answer("Pick a dataset:", ENTER)
            term.wait("How many instances?")
        if step != "key":
            term.child.send(CTRL_C)
    assert_clean_exit(term, 130)
    assert "swebench: interrupted" in term.screen
    assert not Path(".env").exists() and not Path(".swebench").exists()
    assert keychain.lookup("openai") is None


# -- Guided Setup: Hugging Face with a refused token, then no keychain ---------------------------

def test_huggingface_invalid_token_reprompts_then_lists_models(workspace, huggingface_server, no_keychain):
    bad = "hf_wrong0000000000000000"
    huggingface_server.fail(429, retry_after="0", path="/v1/models")  # the catalog fetch waits once
    term = Terminal("setup", env=no_keychain)
    through_checks(term)
    term.answer("Select a compute source:", ENTER)  # the default: Hugging Face
    term.wait("No OS keychain here")  # the way without one is offered before the key is asked
    term.wait("run `export HF_TOKEN=<your key>` in your shell")
    term.answer("Enter your Hugging Face Inference key", bad, ENTER)
    term.wait("refused the key (401")
    term.wait("https://huggingface.co/settings/tokens")
    term.answer("Enter your Hugging Face Inference key", f"  Bearer {KEYS['huggingface']} ", ENTER)
    term.wait("Validating key... ✔")
    term.wait("waiting 0s: huggingface rate limit (429)")
    term.wait("Pick a model")
    term.wait("meta-llama/Llama-3.1-8B-Instruct")
    term.press("coder", ENTER)  # type to filter
    term.answer("Pick a dataset:", ESC)  # back one step: the model list again, not the token
    term.wait("Pick a model")
    term.wait("Qwen/Qwen2.5-Coder-32B-Instruct")
    term.press(ENTER)  # the previous pick is preselected
    term.answer("Pick a dataset:", ENTER)
    term.answer("How many instances?", erase(), ENTER)  # blank: all
    term.answer("Pick a mode:", "2", ENTER)
    term.wait("No OS keychain is available here")
    term.wait("export HF_TOKEN=<your key>")
    term.answer("Run preflight now?", "n")
    term.wait("Compute: Hugging Face Inference API → Qwen/Qwen2.5-Coder-32B-Instruct")
    term.wait("Count: all")
    term.wait("Mode: One reply per instance")
    term.wait("The harness is not ready yet: saving is the default")
    term.answer("Ready:", ENTER)  # the default, with no preflight passed: save, do not run
    term.wait("Run later with `swebench run`")
    assert_clean_exit(term, 0)
    assert "EVALUATION SUMMARY" not in term.screen and not Path("results").exists()

    whoami = [r for r in huggingface_server.requests if r.path == "/api/whoami-v2"]
    assert [r.headers["authorization"] for r in whoami] == [f"Bearer {bad}", f"Bearer {KEYS['huggingface']}"]
    assert dotenv() == {"SWEBENCH_PROVIDER": "huggingface", "SWEBENCH_MODEL": "Qwen/Qwen2.5-Coder-32B-Instruct",
                        "SWEBENCH_DATASET": "lite", "SWEBENCH_COUNT": "0", "SWEBENCH_AGENT": "none"}
    for key in (bad, KEYS["huggingface"]):
        assert key not in term.screen and key not in Path(".env").read_text()


def test_openrouter_key_may_be_skipped_for_its_public_catalog(workspace, openrouter_server, no_keychain):
    term = Terminal("setup", env=no_keychain)
    through_checks(term)
    term.answer("Select a compute source:", "5", ENTER)
    term.answer("Enter your OpenRouter key", ENTER)
    term.wait("No key: the catalog is public, but a run will need OPENROUTER_API_KEY.")
    term.wait("Pick a model (3 available)")
    term.wait("openai/gpt-4o-mini")
    term.press(CTRL_C)
    assert_clean_exit(term, 130)
    assert [r.headers.get("authorization") for r in openrouter_server.requests] == [None]


def test_a_typed_model_id_is_checked_with_a_live_request(workspace, openai_server, provider_env):
    term = Terminal("setup", env={"OPENAI_API_KEY": KEYS["openai"]})
    through_checks(term)
    term.answer("Select a compute source:", "4", ENTER)
    term.answer("Pick a model", "zz-unknown-9", ENTER)  # matches nothing: taken as typed
    term.wait("does not exist")
    term.answer("Pick a model", "o3-mini", ENTER)
    term.answer("Pick a dataset:", CTRL_C)
    assert_clean_exit(term, 130)
    checks = [r.body for r in openai_server.requests if r.path.endswith("/chat/completions")]
    assert [(c["model"], c["max_tokens"]) for c in checks] == [("zz-unknown-9", 1)]


# -- how the model works: the agent or one reply, saved and shown ---------------------------------

def test_agent_mode_is_chosen_saved_shown_in_quick_run_then_one_reply(workspace, openai_server, provider_env):
    env = {"OPENAI_API_KEY": KEYS["openai"], "OPENAI_BASE_URL": provider_env["OPENAI_BASE_URL"]}
    term = Terminal("setup", env=env)
    through_checks(term)
    term.answer("Select a compute source:", "4", ENTER)
    term.answer("Pick a model", "gpt-4o-mini", ENTER)
    term.answer("Pick a dataset:", ENTER)  # lite
    term.answer("How many instances?", erase(), "3", ENTER)
    term.wait("Pick a mode:")
    term.wait("1) Agent in the instance container (mini-swe-agent, the SWE-bench bash-only protocol; "
              "more calls, much better results)")
    term.wait("2) One reply per instance (fast, cheap)")
    term.press(ESC)  # back to the count, which keeps its answer
    term.answer("How many instances?", ENTER)
    term.answer("Pick a mode:", ENTER)  # preselected: the agent
    term.answer("Run preflight now?", "n")
    term.wait("Mode: Agent in the instance container (mini-swe-agent)")
    term.wait("Limits: $3 and 250 steps per instance")  # the shipped SWE-bench config's
    term.wait("Cost: at most $9.00 for 3 instance(s)")  # what `swebench run` estimates before it starts
    term.answer("Ready:", ENTER)  # not preflighted: save
    term.wait("Saved defaults to")
    assert_clean_exit(term, 0)
    assert dotenv()["SWEBENCH_AGENT"] == "mini-swe-agent" and dotenv()["SWEBENCH_COUNT"] == "3"

    quick = Terminal(env=env)
    quick.answer("Choose:", "1", ENTER)
    quick.wait("Quick Run will use:")
    quick.wait("Mode: Agent in the instance container (mini-swe-agent)")
    quick.wait("Limits: $3 and 250 steps per instance")
    quick.wait("Cost: at most $9.00 for 3 instance(s)")
    quick.answer("Press Enter to run now", ESC)
    quick.answer("Choose:", ESC)
    assert_clean_exit(quick, 0)

    again = Terminal("setup", env=env)
    through_checks(again)
    again.answer("Select a compute source:", ENTER)  # the saved one: OpenAI
    again.answer("Pick a model", ENTER)
    again.answer("Pick a dataset:", ENTER)
    again.answer("How many instances?", ENTER)
    again.answer("Pick a mode:", DOWN, ENTER)  # from the saved agent down to one reply
    again.answer("Run preflight now?", "n")
    again.wait("Mode: One reply per instance")
    again.answer("Ready:", ENTER)
    again.wait("Saved defaults to")
    assert_clean_exit(again, 0)
    assert "Limits:" not in again.screen[again.screen.index("Summary"):]
    assert dotenv()["SWEBENCH_AGENT"] == "none" and dotenv()["SWEBENCH_MODEL"] == "gpt-4o-mini"


# -- Guided Setup and Quick Run with real runs ----------------------------------------------------

@pytest.mark.docker
def test_ollama_happy_path_runs_to_a_summary_then_reruns_the_failed(hub_dataset, instance_dataset, ollama_server):
    """The model first gets the second instance wrong; R reruns only that one, which then passes."""
    gold, second = gold_for_prompt(instance_dataset), instance_dataset.hub_ids[1]
    statement = instance_dataset.row(second)["problem_statement"].splitlines()[0]
    wrong_given: list[str] = []

    def reply(body: dict) -> str:
        if statement in json.dumps(body["messages"]) and not wrong_given:
            wrong_given.append(second)
            return f"```diff\n{instance_dataset.wrong[second]}```\n"
        return gold(body)

    ollama_server.on_chat = reply
    term = Terminal("setup")
    through_checks(term)
    term.answer("Select a compute source:", "1", ENTER)
    term.wait(f"Ollama detected at {ollama_server.base_url}")
    term.wait("Pick a local model")
    term.wait("qwen2.5-coder:7b")
    term.press(ENTER)  # the first: llama3.2:1b
    pick_local_dataset(term, hub_dataset, "2")
    term.answer("Run preflight now?", "n")
    term.wait("Compute: Local (Ollama) → llama3.2:1b")
    term.answer("Ready:", "1", ENTER)  # Run now (not the default without a passed preflight)
    term.wait("EVALUATION SUMMARY")
    term.wait("Passed: 1   Failed: 1")
    term.answer("Press Enter to exit, or type R to rerun failed only:", "R", ENTER)
    term.wait("EVALUATION SUMMARY")
    term.wait("Passed: 2   Failed: 0")
    term.answer("Press Enter to exit, or type R to rerun failed only:", ENTER)
    assert_clean_exit(term, 0)

    assert "Generating patches" in term.screen and "Running harness evaluation" in term.screen
    summary = json.loads(next(Path("results").glob("*/summary.json")).read_text())
    assert (summary["provider"], summary["model"], summary["selected"], summary["resolved"]) == \
        ("ollama", "llama3.2:1b", 2, 2)
    for iid in instance_dataset.hub_ids[:2]:
        assert (Path(summary["results_dir"]) / iid / "report.json").exists()
    assert dotenv()["SWEBENCH_MODEL"] == "llama3.2:1b" and dotenv()["SWEBENCH_COUNT"] == "2"
    assert len([p for p in ollama_server.paths("POST") if p == "/api/chat"]) == 3  # 2, then the failed one


@pytest.mark.docker
@pytest.mark.keychain
def test_anthropic_happy_path_saves_key_shows_cost_and_summary(hub_dataset, instance_dataset, anthropic_server,
                                                               keychain, keychain_env):
    anthropic_server.on_chat = gold_for_prompt(instance_dataset)
    term = Terminal("setup", env=keychain_env)
    through_checks(term)
    term.answer("Select a compute source:", "3", ENTER)
    term.answer("Enter your Anthropic key", KEYS["anthropic"], ENTER)
    term.wait("Validating key... ✔")
    term.answer("Pick a model", "claude-3-haiku", ENTER)
    pick_local_dataset(term, hub_dataset, "1")
    term.wait("Linux Secret Service")
    term.answer("Save your API key securely", ENTER)
    term.wait("Saved to the keychain")
    term.answer("Run preflight now?", "n")
    term.wait("Compute: Anthropic API → claude-3-haiku-20240307")
    term.answer("Ready:", "1", ENTER)  # Run now
    term.wait("Estimated cost for 1 generation(s) with claude-3-haiku-20240307: ~$")
    term.wait("EVALUATION SUMMARY")
    term.answer("Press Enter to exit", ENTER)
    assert_clean_exit(term, 0)

    assert keychain.lookup("anthropic") == KEYS["anthropic"]
    assert KEYS["anthropic"] not in term.screen
    for path in [Path(".env"), *Path(".swebench").rglob("*"), *Path("results").rglob("*")]:
        if path.is_file():
            assert KEYS["anthropic"] not in path.read_text(errors="replace"), path
    summary = json.loads(next(Path("results").glob("*/summary.json")).read_text())
    assert summary["resolved"] == 1 and summary["cost_usd"] is not None
    assert "Passed: 1" in term.screen and "Cost" in term.screen


@pytest.mark.docker
def test_quick_run_after_setup_asks_only_for_enter(hub_dataset, instance_dataset, openai_server, provider_env):
    openai_server.on_chat = gold_for_prompt(instance_dataset)
    env = {"OPENAI_API_KEY": KEYS["openai"], "OPENAI_BASE_URL": provider_env["OPENAI_BASE_URL"]}
    setup = subprocess.run([sys.executable, "-m", "swebench_tasks", "setup", "--no-input", "--provider", "openai",
                            "--model", "gpt-4o-mini", "-d", str(hub_dataset), "--count", "2"],
                           capture_output=True, text=True)
    assert setup.returncode == 0, setup.stderr
    term = Terminal(env=env)
    term.answer("Choose:", "1", ENTER)
    term.wait("Quick Run will use:")
    term.wait("Model: gpt-4o-mini")
    term.answer("Press Enter to run now", ENTER)
    term.wait("EVALUATION SUMMARY")
    term.answer("Press Enter to exit", ENTER)
    assert_clean_exit(term, 0)
    screen = term.screen
    assert screen.index("Generating patches") < screen.index("EVALUATION SUMMARY")
    assert "Passed: 2" in screen
    prompts = [line for line in screen.splitlines() if line.lstrip().startswith("?")]
    assert all(p.split("?", 1)[1].strip().startswith(("Choose:", "Press Enter")) for p in prompts), prompts


# -- preflight: a registry that refuses the image, a fix, a retry ---------------------------------

@pytest.mark.docker
def test_preflight_registry_failure_offers_fixes_and_retry_passes(workspace, instance_dataset, docker_engine,
                                                                 openai_server, provider_env):
    """The first instance's image exists only under the fallback namespace of the loopback
    registry, which is not the default one: the pull fails, the wizard offers the fixes,
    the user sets the namespace, and the retried preflight passes."""
    iid = instance_dataset.fallback_ids[0]
    dataset = instance_dataset.write(Path("fallback.jsonl"), [iid])
    env = {"OPENAI_API_KEY": KEYS["openai"], "OPENAI_BASE_URL": provider_env["OPENAI_BASE_URL"]}
    try:
        term = Terminal("setup", env=env)
        through_checks(term)
        term.answer("Select a compute source:", "4", ENTER)
        term.wait("Found a key in the environment (OPENAI_API_KEY)")
        term.answer("Pick a model", "gpt-4o-mini", ENTER)
        pick_local_dataset(term, dataset, "1")
        term.answer("Run preflight now?", ENTER)
        term.wait("The image pull was refused or could not reach its registry.")
        term.wait("How to fix:")
        term.wait("docker login ghcr.io")
        term.press("2", ENTER)
        term.answer("Registry namespace", instance_dataset.fallback_namespace, ENTER)
        term.answer("Retry preflight?", ENTER)
        term.wait("Preflight passed.")
        term.wait("Harness: Ready")
        term.answer("Ready:", DOWN, ENTER)
        assert_clean_exit(term, 0)
    finally:
        docker_engine.remove_images(instance_dataset.row(iid)["image"], instance_dataset.fallback_images[iid])
    assert dotenv()["SWEBENCH_DOCKER_NAMESPACE"] == instance_dataset.fallback_namespace
    assert dotenv()["SWEBENCH_MODEL"] == "gpt-4o-mini"


@pytest.mark.docker
def test_ctrl_c_during_a_run_exits_130_and_leaves_no_summary(hub_dataset, openai_server, provider_env):
    release = threading.Event()

    def slow(body: dict) -> str:
        release.wait()
        return "no idea"

    openai_server.on_chat = slow
    env = {"OPENAI_API_KEY": KEYS["openai"], "OPENAI_BASE_URL": provider_env["OPENAI_BASE_URL"]}
    setup = subprocess.run([sys.executable, "-m", "swebench_tasks", "setup", "--no-input", "--provider", "openai",
                            "--model", "gpt-4o-mini", "-d", str(hub_dataset), "--count", "1"],
                           capture_output=True, text=True)
    assert setup.returncode == 0, setup.stderr
    try:
        term = Terminal(env=env)
        term.answer("Choose:", "1", ENTER)
        term.answer("Press Enter to run now", ENTER)
        term.wait("Generating patches")
        while not any(r.path.endswith("/chat/completions") for r in openai_server.requests):
            term.child.read_nonblocking(65536, timeout=HANG_GUARD)
        term.press(CTRL_C)
        assert_clean_exit(term, 130)
    finally:
        release.set()
    assert "swebench: interrupted" in term.screen
    assert not list(Path("results").glob("*/summary.json"))
    assert not list(Path(".swebench").rglob("*.tmp"))
