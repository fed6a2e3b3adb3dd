"""`swebench secrets/profiles/models` as a user runs them: real CLI, real keychain, loopback servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.providers import KEYS

pytestmark = pytest.mark.keychain
OPENAI = KEYS["openai"]


@pytest.fixture
def cli(workspace, provider_env, keychain, keychain_env, tmp_path):
    """Run `python -m swebench_tasks ...` in the workspace, pointed at the servers and keychain.

    No provider key is in the environment: keys must come from stdin or the keychain.
    """
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY",
                                                            "OPENROUTER_API_KEY", "HF_TOKEN")}
    env.update({k: v for k, v in provider_env.items() if not k.endswith(("_API_KEY", "_TOKEN"))})
    env.update(keychain_env, HOME=str(home), SWEBENCH_NO_INPUT="1", PYTHONPATH=str(Path(__file__).parents[1]))

    def run(*args: str, input: str | None = None, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "swebench_tasks", *args], input=input, text=True,
                              capture_output=True, cwd=workspace, env={**env, **(extra or {})})

    run.home = home
    return run


def one_json(out: subprocess.CompletedProcess):
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # exactly one document: json.loads rejects anything after it


def one_line_error(out: subprocess.CompletedProcess, code: int) -> str:
    assert out.returncode == code, (out.returncode, out.stdout, out.stderr)
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("swebench: ") and "warning" not in ln]
    assert len(lines) == 1, out.stderr
    return lines[0]


def assert_no_leak(key: str, *roots: Path) -> None:
    needle = key.encode()
    hits = [p for root in roots for p in Path(root).rglob("*") if p.is_file() and needle in p.read_bytes()]
    assert hits == []


def test_secrets_set_validates_sanitises_stores_and_never_shows_the_key(cli, keychain, provider_servers, workspace):
    openai = provider_servers["openai"]
    openai.fail(429, retry_after="0", path="/v1/models")
    out = cli("secrets", "set", "openai", "--stdin", input=f'  "Bearer {OPENAI}"\r\n')
    assert out.returncode == 0, out.stderr
    assert "waiting 0s: openai rate limit (429)" in out.stderr  # the validation's wait is shown
    assert keychain.lookup("openai") == OPENAI
    assert openai.requests[-1].headers["authorization"] == f"Bearer {OPENAI}"  # validated live first
    status = one_json(cli("secrets", "get", "openai", "--json"))
    assert status["present"] and status["in_keychain"] and "SecretService" in status["backend"]
    human = cli("secrets", "get", "openai")
    assert "key present in keychain" in human.stdout
    for out in (human,):
        assert OPENAI not in out.stdout + out.stderr
    models = one_json(cli("models", "openai", "--json", "--search", "MINI"))  # key from the keychain
    assert [m["id"] for m in models["models"]] == ["gpt-4o-mini", "o3-mini"]
    cleared = one_json(cli("secrets", "clear", "openai", "--json"))
    assert cleared["removed"] and keychain.lookup("openai") is None
    assert_no_leak(OPENAI, workspace, cli.home, workspace.parent / "config")


def test_secrets_set_refused_key_stores_nothing(cli, keychain):
    out = cli("secrets", "set", "openai", "--stdin", input="sk-wrong-key-9999999999\n")
    line = one_line_error(out, 3)
    assert "swebench secrets set openai" in line and "sk-wrong-key-9999999999" not in out.stderr + out.stdout
    assert keychain.lookup("openai") is None


@pytest.mark.parametrize("args,stdin", [
    (("secrets", "set", "bogus", "--stdin"), "sk-x\n"),
    (("secrets", "set", "openai", "--stdin"), "\n"),
    (("secrets", "set", "openai", "--stdin"), '""\n'),
    (("secrets", "set", "openai"), None),  # no TTY and no --stdin
    (("secrets", "set", "ollama", "--stdin"), "x\n"),
    (("secrets", "get", "bogus"), None),
    (("models", "bogus"), None),
    (("models", "anthropic"), None),  # no key anywhere
    (("profiles", "set-key", "--provider", "openai", "--profile", "missing", "--stdin"), f"{OPENAI}\n"),
    (("profiles", "set-key", "--provider", "openai", "--profile", "default"), None),
    (("profiles", "set-active", "--provider", "openai", "--profile", "missing"), None),
    (("profiles", "create", "--provider", "nope", "--profile", "x"), None),
    (("profiles", "create", "--provider", "openai"), None),  # click usage error
])
def test_bad_input_exits_2_with_one_line(cli, args, stdin):
    one_line_error(cli(*args, input=stdin), 2)


def test_key_with_a_newline_from_env_is_refused(cli, keychain):
    out = cli("profiles", "set-key", "--provider", "openai", "--profile", "default", "--from-env", "MY_KEY",
              extra={"MY_KEY": f"{OPENAI}\nsecond-line"})
    assert "several lines" in one_line_error(out, 2)
    assert keychain.lookup("openai") is None


def test_profiles_lifecycle(cli, keychain, provider_servers, workspace):
    assert one_json(cli("profiles", "create", "--provider", "openai", "--profile", "work", "--active", "--json"))["ok"]
    cli("profiles", "create", "--provider", "openai", "--profile", "home")
    out = cli("profiles", "set-key", "--provider", "openai", "--profile", "work", "--stdin", input=OPENAI + "\n")
    assert out.returncode == 0, out.stderr
    assert keychain.lookup("openai:work") == OPENAI and keychain.lookup("openai") is None
    out = cli("profiles", "set-key", "--provider", "openai", "--profile", "home", "--from-env", "WORK_KEY",
              extra={"WORK_KEY": OPENAI})
    assert out.returncode == 0, out.stderr
    listing = one_json(cli("profiles", "list", "--json"))
    rows = {(r["provider"], r["profile"]): r for r in listing["profiles"]}
    assert rows[("openai", "work")]["active"] and rows[("openai", "work")]["key_stored"]
    assert not rows[("openai", "default")]["active"]
    assert rows[("ollama", "default")]["key_stored"] is None
    # the active profile's key serves `models`
    assert one_json(cli("models", "openai", "--json"))["count"] == 3
    # rename onto an existing name: refused, nothing changed
    before = Path(listing["config"]).read_text()
    one_line_error(cli("profiles", "rename", "--provider", "openai", "--from", "work", "--to", "home"), 2)
    assert Path(listing["config"]).read_text() == before
    assert cli("profiles", "rename", "--provider", "openai", "--from", "work", "--to", "job").returncode == 0
    assert keychain.lookup("openai:job") == OPENAI and keychain.lookup("openai:work") is None
    assert cli("profiles", "clear-key", "--provider", "openai", "--profile", "home").returncode == 0
    assert keychain.lookup("openai:home") is None
    assert cli("profiles", "delete", "--provider", "openai", "--profile", "job").returncode == 0
    assert keychain.lookup("openai:job") is None
    final = one_json(cli("profiles", "list", "--json"))
    assert {r["profile"] for r in final["profiles"] if r["provider"] == "openai"} == {"default", "home"}
    assert "*   openai" not in cli("profiles", "list").stdout
    assert_no_leak(OPENAI, workspace, cli.home, workspace.parent / "config")


def test_corrupted_profiles_file_is_one_clear_error_and_untouched(cli, workspace):
    path = workspace.parent / "config" / "profiles.json"
    path.write_text("{oops")
    for args in (("profiles", "list"), ("profiles", "create", "--provider", "openai", "--profile", "x")):
        assert str(path) in one_line_error(cli(*args), 2)
    assert path.read_text() == "{oops"


def test_models_for_each_provider(cli, provider_servers):
    router = one_json(cli("models", "openrouter", "--json"))  # no key needed
    mini = next(m for m in router["models"] if m["id"] == "openai/gpt-4o-mini")
    assert mini["input_price"] == 0.00000015 and mini["context_length"] == 128000
    assert "$0.15/$0.60 per 1M" in cli("models", "openrouter", "--search", "gpt").stdout
    assert one_json(cli("models", "ollama", "--json"))["count"] == 2
    hf = one_json(cli("models", "huggingface", "--json", extra={"HF_TOKEN": KEYS["huggingface"]}))
    assert hf["count"] == 2 and not hf["curated"]
    anthropic = one_json(cli("models", "anthropic", "--json", extra={"ANTHROPIC_API_KEY": KEYS["anthropic"]}))
    assert anthropic["count"] == 4


def test_models_refused_key_exits_3(cli):
    line = one_line_error(cli("models", "openai", extra={"OPENAI_API_KEY": "sk-bad-0000000000"}), 3)
    assert "OPENAI_API_KEY" in line


def test_models_survives_a_429(cli, provider_servers):
    provider_servers["openai"].fail(429, retry_after="0")
    out = cli("models", "openai", "--json", extra={"OPENAI_API_KEY": OPENAI})
    assert one_json(out)["count"] == 3
    assert "waiting 0s: openai rate limit (429)" in out.stderr  # said while it waits, off stdout


def test_provider_down_exits_3_with_one_line(cli):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = cli("models", "ollama", extra={"OLLAMA_HOST": f"127.0.0.1:{port}", "SWEBENCH_MAX_RETRIES": "1"})
    assert "cannot reach ollama" in one_line_error(out, 3)


def test_no_keychain_says_so_once_and_never_writes_plaintext(cli, keychain, workspace):
    fail = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    out = cli("secrets", "set", "openai", "--stdin", input=OPENAI + "\n", extra=fail)
    assert "export OPENAI_API_KEY=<your key>" in one_line_error(out, 2)
    assert keychain.lookup("openai") is None
    assert one_json(cli("secrets", "get", "openai", "--json", extra=fail))["keychain"] is False
    assert "none usable" in cli("secrets", "get", "openai", extra=fail).stdout
    missing = cli("models", "openai", extra=fail)
    line = one_line_error(missing, 2)
    assert missing.stderr.count("no usable OS keychain") == 1
    assert "fix: export OPENAI_API_KEY=<your key>" in line and "secrets set" not in line  # a fix that works here
    # the environment variable still works
    assert one_json(cli("models", "openai", "--json", extra={**fail, "OPENAI_API_KEY": OPENAI}))["count"] == 3
    assert_no_leak(OPENAI, workspace, cli.home, workspace.parent / "config")


def test_secrets_set_prompts_hidden_in_a_tty(cli, keychain, workspace, provider_env, keychain_env):
    import pexpect

    env = {k: v for k, v in os.environ.items() if k != "SWEBENCH_NO_INPUT"}
    env.update({k: v for k, v in provider_env.items() if not k.endswith(("_API_KEY", "_TOKEN"))})
    env.update(keychain_env, HOME=str(cli.home), PYTHONPATH=str(Path(__file__).parents[1]))
    child = pexpect.spawn(sys.executable, ["-m", "swebench_tasks", "secrets", "set", "openai"], cwd=str(workspace),
                          env=env, encoding="utf-8", timeout=None)
    child.expect("input hidden")
    child.sendline(f"  {OPENAI}  ")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert OPENAI not in child.before  # not echoed
    assert keychain.lookup("openai") == OPENAI
