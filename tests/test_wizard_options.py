"""Options (home → 4): providers and profiles, action first, through a real terminal.

After each step the grouped list on screen must say what `swebench profiles list --json`
says; keys go to the real Secret Service and never to the screen or a file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.providers import KEYS
from tests.test_run_docker import gold_for_prompt
from tests.wizard_support import ENTER, ESC, Terminal, hub_dataset  # noqa: F401

pytestmark = pytest.mark.keychain

WORK_KEY = "sk-work-key-9876543210"
HEADER = "Options: providers and profiles"
ROW = re.compile(r"^\s+([●○])\s+(\S+)\s+(key stored|no key needed|no key)\s+model: (\S+)")
PROVIDER = re.compile(r"^\S.* \((\w+)\)$")


def listed(term: Terminal) -> list[dict]:
    """The grouped list as last drawn, in `profiles list --json` terms."""
    term.wait("What would you like to do?")
    block = term.screen.rsplit(HEADER, 1)[1].split("active (runs use", 1)[0]
    rows, provider = [], None
    for line in block.splitlines():
        if not line.startswith(" ") and (match := PROVIDER.match(line)):
            provider = match[1]
        elif match := ROW.match(line):
            rows.append({"provider": provider, "profile": match[2], "active": match[1] == "●",
                         "key_stored": {"key stored": True, "no key": False, "no key needed": None}[match[3]],
                         "model": None if match[4] == "-" else match[4]})
    return rows


def cli_listing(env: dict[str, str]) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "swebench_tasks", "profiles", "list", "--json"],
                         capture_output=True, text=True, env={**os.environ, **env}, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    return [{k: row[k] for k in ("provider", "profile", "active", "key_stored", "model")}
            for row in json.loads(out.stdout)["profiles"]]


def assert_matches_cli(term: Terminal, env: dict[str, str]) -> list[dict]:
    shown = listed(term)
    key = lambda r: (r["provider"], r["profile"])  # noqa: E731
    assert sorted(shown, key=key) == sorted(cli_listing(env), key=key)
    return shown


def row(rows: list[dict], provider: str, profile: str) -> dict | None:
    return next((r for r in rows if (r["provider"], r["profile"]) == (provider, profile)), None)


def assert_no_key_anywhere(term: Terminal, *roots: Path) -> None:
    assert WORK_KEY not in term.screen
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                assert WORK_KEY.encode() not in path.read_bytes(), path


def action(term: Terminal, number: str) -> None:
    """At the Options menu: 1 add, 2 set key, 3 clear key, 4 make active, 5 rename, 6 delete, 7 models."""
    term.press(number, ENTER)


@pytest.mark.docker
def test_work_profile_lifecycle_and_quick_run_uses_its_key(hub_dataset, instance_dataset, openai_server,
                                                           keychain, keychain_env):
    openai_server.keys.add(WORK_KEY)
    openai_server.on_chat = gold_for_prompt(instance_dataset)
    config = Path(os.environ["SWEBENCH_CONFIG_DIR"])
    setup = subprocess.run([sys.executable, "-m", "swebench_tasks", "setup", "--no-input", "--provider", "openai",
                            "--model", "gpt-4o-mini", "-d", str(hub_dataset), "--count", "1"],
                           capture_output=True, text=True)
    assert setup.returncode == 0, setup.stderr

    term = Terminal(env=keychain_env)
    term.answer("Choose:", "4", ENTER)
    rows = assert_matches_cli(term, keychain_env)
    assert row(rows, "openai", "default")["active"] and row(rows, "openai", "work") is None

    action(term, "1")  # add a profile: the provider is asked after the action
    term.answer("Add a profile for which provider?", "4", ENTER)
    term.answer("Profile name:", "work", ENTER)
    term.answer("Make openai/work the active openai profile?", "n")
    term.answer("Set its key now?", ENTER)
    term.answer("Enter your OpenAI key", KEYS["openai"][:-1] + "X", ENTER)  # refused first
    term.wait("refused the key (401")
    term.wait("https://platform.openai.com/api-keys")
    term.answer("Enter your OpenAI key", f"'{WORK_KEY}'", ENTER)  # quotes are sanitised away
    term.wait("Key validated and stored for openai/work")
    term.answer("Press Enter to continue.", ENTER)
    rows = assert_matches_cli(term, keychain_env)
    assert row(rows, "openai", "work") == {"provider": "openai", "profile": "work", "active": False,
                                            "key_stored": True, "model": None}
    assert keychain.lookup("openai:work") == WORK_KEY

    action(term, "4")  # make active
    term.answer("Make which profile active?", "1", ENTER)  # openai/work is the first inactive one
    term.wait("openai: active profile is now work")
    term.answer("Press Enter to continue.", ENTER)
    rows = assert_matches_cli(term, keychain_env)
    assert row(rows, "openai", "work")["active"] and not row(rows, "openai", "default")["active"]

    term.press(ESC)  # back to the home menu, then Quick Run
    term.answer("Choose:", "1", ENTER)
    term.wait("Profile: work")
    term.answer("Press Enter to run now", ENTER)
    term.wait("EVALUATION SUMMARY")
    term.answer("Press Enter to exit", ENTER)
    assert term.exit_code() == 0, term.screen[-3000:]
    chats = [r for r in openai_server.requests if r.path.endswith("/chat/completions")]
    assert chats and {r.headers["authorization"] for r in chats} == {f"Bearer {WORK_KEY}"}

    term = Terminal(env=keychain_env)
    term.answer("Choose:", "4", ENTER)
    listed(term)
    action(term, "5")  # rename
    term.answer("Rename which profile?", "1", ENTER)
    term.answer("New name for openai/work:", "job", ENTER)
    term.wait("Renamed openai/work to openai/job")
    term.answer("Press Enter to continue.", ENTER)
    rows = assert_matches_cli(term, keychain_env)
    assert row(rows, "openai", "job")["active"] and row(rows, "openai", "work") is None
    assert keychain.lookup("openai:job") == WORK_KEY and keychain.lookup("openai:work") is None

    action(term, "3")  # clear a key: the confirmation names what changes
    term.answer("Clear the key of which profile?", "1", ENTER)
    term.wait("Remove the key stored for openai/job from the keychain (account openai:job)?")
    term.press("y")
    term.wait("Key removed for openai/job")
    term.answer("Press Enter to continue.", ENTER)
    rows = assert_matches_cli(term, keychain_env)
    assert row(rows, "openai", "job")["key_stored"] is False and keychain.lookup("openai:job") is None

    action(term, "6")  # delete: refused once, then confirmed
    term.answer("Delete which profile?", "1", ENTER)
    term.answer("Delete openai/job and its stored key", "n")
    term.answer("Press Enter to continue.", ENTER)
    assert row(assert_matches_cli(term, keychain_env), "openai", "job") is not None
    action(term, "6")
    term.answer("Delete which profile?", "1", ENTER)
    term.wait("It is active: openai/default becomes active.")
    term.press("y")
    term.wait("Deleted openai/job")
    term.answer("Press Enter to continue.", ENTER)
    rows = assert_matches_cli(term, keychain_env)
    assert row(rows, "openai", "job") is None and row(rows, "openai", "default")["active"]

    term.press(ESC)
    term.answer("Choose:", ESC)
    assert term.exit_code() == 0 and "Traceback" not in term.screen
    assert_no_key_anywhere(term, config, Path.cwd())


def test_rename_onto_an_existing_name_asks_and_names_the_loss(workspace, openai_server, keychain, keychain_env):
    for name in ("alpha", "beta"):
        out = subprocess.run([sys.executable, "-m", "swebench_tasks", "profiles", "create", "--provider", "openai",
                              "--profile", name], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
    term = Terminal(env=keychain_env)
    term.answer("Choose:", "4", ENTER)
    listed(term)
    action(term, "5")
    term.answer("Rename which profile?", "1", ENTER)  # openai/alpha
    term.answer("New name for openai/alpha:", "beta", ENTER)
    term.wait("openai/beta already exists (no key, model -). Replace it: delete it and its key, then rename alpha")
    term.press("n")
    term.answer("Press Enter to continue.", ENTER)
    rows = assert_matches_cli(term, keychain_env)
    assert row(rows, "openai", "alpha") and row(rows, "openai", "beta")
    action(term, "5")
    term.answer("Rename which profile?", "1", ENTER)
    term.answer("New name for openai/alpha:", "beta", ENTER)
    term.answer("Replace it:", "y")
    term.wait("Renamed openai/alpha to openai/beta")
    term.answer("Press Enter to continue.", ENTER)
    rows = assert_matches_cli(term, keychain_env)
    assert row(rows, "openai", "alpha") is None and row(rows, "openai", "beta")
    term.press(ESC)
    term.answer("Choose:", ESC)
    assert term.exit_code() == 0


def test_corrupted_profiles_file_is_reported_and_left_untouched(workspace):
    path = Path(os.environ["SWEBENCH_CONFIG_DIR"]) / "profiles.json"
    path.write_text('{"providers": {"openai": [1, 2')
    before = path.read_bytes()
    term = Terminal()
    term.answer("Choose:", "4", ENTER)
    term.wait(f"cannot read profiles file {path}")
    term.wait("left untouched")
    term.answer("Press Enter to go back.", ENTER)
    term.answer("Choose:", ESC)
    assert term.exit_code() == 0 and "Traceback" not in term.screen
    assert path.read_bytes() == before


def test_esc_backs_out_of_an_action_and_ctrl_c_exits_130(workspace, openai_server, keychain, keychain_env):
    term = Terminal(env=keychain_env)
    term.answer("Choose:", "4", ENTER)
    listed(term)
    action(term, "2")  # set a key ...
    term.answer("Set or replace the key of which profile?", ESC)  # ... no: back to the list
    listed(term)
    action(term, "2")
    term.answer("Set or replace the key of which profile?", "1", ENTER)
    term.answer("Enter your OpenAI key", WORK_KEY[:6], "\x03")
    assert term.exit_code() == 130
    assert "Traceback" not in term.screen and "swebench: interrupted" in term.screen
    assert keychain.lookup("openai") is None
    assert not (Path(os.environ["SWEBENCH_CONFIG_DIR"]) / "profiles.json").exists()
