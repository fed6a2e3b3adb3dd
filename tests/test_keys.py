"""Key sanitising, resolution order, the real Secret Service and the no-keychain path."""

from __future__ import annotations

import stat

import pytest

from swebench_tasks import config, keys
from swebench_tasks.errors import UsageError

KEY = "sk-test-secret-value-123456"
@pytest.mark.parametrize("raw", [KEY, f"  {KEY}\n", f'"{KEY}"', f"'{KEY}'\r\n", f"Bearer {KEY}",
                                 f'  "Bearer {KEY}"  ', f"bearer {KEY}\n"])
def test_sanitize_key_strips_paste_debris(raw):
    assert keys.sanitize_key(raw) == KEY


@pytest.mark.parametrize("raw", ["", "   \n", '""', "Bearer ", "sk-one\nsk-two", "sk-a b", "sk-\x07"])
def test_sanitize_key_rejects_bad_keys(raw):
    with pytest.raises(UsageError) as info:
        keys.sanitize_key(raw)
    assert info.value.exit_code == 2


def test_accounts_and_pointers():
    assert keys.account("openai") == "openai"
    assert keys.account("openai", "default") == "openai"
    assert keys.account("openai", "work") == "openai:work"
    assert keys.pointer("anthropic", "work") == "keyring://swebench-runner/anthropic:work"


def test_unknown_provider_is_usage_error(workspace):
    with pytest.raises(UsageError):
        keys.resolve_key("nope", workdir=workspace)


def test_fingerprint_is_stable_salted_and_not_the_key(workspace):
    fp = keys.key_fingerprint(KEY)
    assert fp == keys.key_fingerprint(KEY) and fp != keys.key_fingerprint(KEY + "x")
    assert KEY not in fp and fp.startswith("hmac-sha256:")
    salt = config.config_dir() / "fingerprint.salt"
    assert stat.S_IMODE(salt.stat().st_mode) == 0o600
    import hashlib

    assert hashlib.sha256(KEY.encode()).hexdigest()[:16] not in fp  # salted, not a bare hash


def test_environment_wins_and_is_sanitised(workspace, monkeypatch, no_keychain):
    monkeypatch.setenv("OPENAI_API_KEY", f" {KEY}\n")
    assert keys.resolve_key("openai", workdir=workspace) == KEY


def test_ollama_needs_no_key(workspace):
    assert keys.resolve_key("ollama", workdir=workspace) is None


def test_nothing_found_is_none(workspace, no_keychain):
    assert keys.resolve_key("openai", workdir=workspace) is None


def test_nothing_found_asks_the_front_once_and_sanitises(workspace, no_keychain):
    prompts: list[str] = []
    typed = keys.resolve_key("openai", workdir=workspace, ask_secret=lambda p: prompts.append(p) or f" '{KEY}'\n")
    assert typed == KEY and len(prompts) == 1 and "OPENAI_API_KEY" in prompts[0]
    assert keys.resolve_key("openai", workdir=workspace, ask_secret=lambda p: "  ") is None  # skipped


def test_dotenv_plain_value_is_read_never_written(workspace, no_keychain):
    (workspace / ".env").write_text(f"OPENAI_API_KEY={KEY}\n")
    assert keys.resolve_key("anthropic", workdir=workspace) is None
    assert keys.resolve_key("openai", workdir=workspace) == KEY


# -- no usable keychain ---------------------------------------------------------------------

def test_no_keychain_refuses_to_store_and_warns_once(workspace, no_keychain, capsys):
    with pytest.raises(UsageError) as info:
        keys.store_key("openai", KEY)
    assert "OPENAI_API_KEY" in info.value.fix
    assert keys.resolve_key("openai", workdir=workspace) is None
    assert keys.resolve_key("anthropic", workdir=workspace) is None
    err = capsys.readouterr().err
    assert err.count("no usable OS keychain") == 1
    status = keys.key_status("openai")
    assert not status.keychain and not status.present and "fail" in status.backend
    assert KEY not in "".join(p.read_text(errors="ignore") for p in workspace.parent.rglob("*") if p.is_file())


def test_without_a_keychain_the_fix_is_the_variable(workspace, no_keychain):
    for fix in (keys.key_fix("openai"), keys.key_fix("anthropic", "work")):
        assert fix.startswith("export ") and "=<your key>" in fix and "swebench" not in fix
    assert keys.key_fix("openai").startswith("export OPENAI_API_KEY=<your key>")
    (workspace / ".env").write_text("OPENAI_API_KEY=keyring://swebench-runner/openai\n")
    with pytest.raises(UsageError) as info:  # a pointer into a keychain that is not there
        keys.resolve_key("openai", workdir=workspace)
    assert info.value.fix.startswith("export OPENAI_API_KEY=")


@pytest.mark.keychain
def test_with_a_keychain_the_fix_offers_to_store_the_key(workspace, keychain, keychain_env):
    assert "swebench secrets set openai" in keys.key_fix("openai")


def test_plaintext_backends_are_not_keychains():
    from keyring.backends import fail, null

    class PlaintextKeyring(null.Keyring):  # the shape of keyrings.alt.file.PlaintextKeyring
        pass

    PlaintextKeyring.__module__ = "keyrings.alt.file"
    assert not keys._is_keychain(fail.Keyring())
    assert not keys._is_keychain(null.Keyring())
    assert not keys._is_keychain(PlaintextKeyring())


def test_chainer_without_a_real_backend_is_no_keychain(monkeypatch):
    import keyring
    from keyring.backends import chainer, fail

    monkeypatch.setattr(chainer.ChainerBackend, "backends", [fail.Keyring()])
    monkeypatch.setattr(keyring, "get_keyring", lambda: chainer.ChainerBackend())
    backend, name = keys.keychain()
    assert backend is None and "Chainer" in name


# -- the real Secret Service ----------------------------------------------------------------

@pytest.mark.keychain
def test_store_read_clear_in_the_real_keychain(workspace, keychain, keychain_env):
    backend = keys.store_key("openai", f"  {KEY}\n", profile="work")
    assert "SecretService" in backend
    assert keychain.lookup("openai:work") == KEY  # read back by libsecret, not by us
    assert keychain.lookup("openai") is None
    status = keys.key_status("openai", profile="work")
    assert status.in_keychain and status.keychain and not status.in_environment
    assert KEY not in repr(status)
    assert keys.resolve_key("openai", profile="work", workdir=workspace) == KEY
    assert keys.clear_key("openai", profile="work") is True
    assert keys.clear_key("openai", profile="work") is False
    assert keychain.lookup("openai:work") is None


@pytest.mark.keychain
def test_resolution_order_env_keychain_pointer(workspace, keychain, keychain_env, monkeypatch):
    keys.store_key("openai", KEY)
    keys.store_key("openai", "sk-other-profile-key", profile="work")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-environment")
    assert keys.resolve_key("openai", workdir=workspace) == "sk-from-environment"
    monkeypatch.delenv("OPENAI_API_KEY")
    assert keys.resolve_key("openai", workdir=workspace) == KEY
    # a .env pointer names another entry (here: the work profile's) for a provider with none stored
    (workspace / ".env").write_text("ANTHROPIC_API_KEY=keyring://swebench-runner/openai:work\n")
    assert keys.resolve_key("anthropic", workdir=workspace) == "sk-other-profile-key"
    (workspace / ".env").write_text("ANTHROPIC_API_KEY=keyring://swebench-runner/missing\n")
    with pytest.raises(UsageError):
        keys.resolve_key("anthropic", workdir=workspace)


@pytest.mark.keychain
def test_sb_cli_key_account(workspace, keychain, keychain_env):
    keys.store_key("sb-cli", KEY)
    assert keychain.lookup("sb-cli") == KEY
    assert keys.resolve_key("sb-cli", workdir=workspace) == KEY
