"""Profiles: the JSON file in SWEBENCH_CONFIG_DIR, atomic writes, keys moving with renames."""

from __future__ import annotations

import json

import pytest

from swebench_tasks import config, keys, profiles
from swebench_tasks.errors import UsageError


def test_config_dir_default_is_user_config_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("SWEBENCH_CONFIG_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config.config_dir() == tmp_path / "xdg" / "swebench-runner"


def test_defaults_without_a_file(workspace, no_keychain):
    assert profiles.active_profile("openai") is None
    assert config.profile_model("openai") is None
    assert not config.profiles_path().exists()
    rows = [r for r in profiles.listing() if r["provider"] == "openai"]
    assert rows == [{"provider": "openai", "profile": "default", "active": True, "model": None,
                     "account": "openai", "key_stored": False}]
    assert [r["key_stored"] for r in profiles.listing() if r["provider"] == "ollama"] == [None]


def test_create_activate_model_and_file_shape(workspace):
    profiles.create("anthropic", "work", active=True)
    profiles.set_model("anthropic", "work", "claude-3-haiku-20240307")
    assert profiles.active_profile("anthropic") == "work"
    assert config.profile_model("anthropic") == "claude-3-haiku-20240307"
    doc = json.loads(config.profiles_path().read_text())
    assert doc["providers"]["anthropic"] == {
        "active": "work", "profiles": {"default": {"model": None}, "work": {"model": "claude-3-haiku-20240307"}}}
    profiles.set_active("anthropic", "default")
    assert profiles.active_profile("anthropic") is None
    assert not list(config.config_dir().glob(".profiles.*"))  # no temp files left behind


@pytest.mark.parametrize("call", [
    lambda: profiles.create("nope", "x"),
    lambda: profiles.create("openai", "bad:name"),
    lambda: profiles.create("openai", ""),
    lambda: profiles.set_active("openai", "missing"),
    lambda: profiles.delete("openai", "missing"),
    lambda: profiles.delete("openai", "default"),
    lambda: profiles.rename("openai", "default", "x"),
])
def test_bad_input_is_usage_error(workspace, call):
    with pytest.raises(UsageError) as info:
        call()
    assert info.value.exit_code == 2


def test_create_twice_and_rename_onto_existing_are_refused(workspace, no_keychain):
    profiles.create("openai", "a")
    profiles.create("openai", "b")
    with pytest.raises(UsageError):
        profiles.create("openai", "a")
    before = config.profiles_path().read_text()
    with pytest.raises(UsageError) as info:
        profiles.rename("openai", "a", "b")
    assert "already exists" in info.value.message
    assert config.profiles_path().read_text() == before


def test_corrupted_file_is_reported_and_left_untouched(workspace):
    path = config.profiles_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    for junk in ("{not json", '{"providers": []}', '["x"]'):
        path.write_text(junk)
        with pytest.raises(UsageError) as info:
            profiles.create("openai", "work")
        assert str(path) in info.value.message and "untouched" in info.value.fix
        assert path.read_text() == junk


@pytest.mark.keychain
def test_rename_and_delete_move_and_clear_keys(workspace, keychain, keychain_env):
    profiles.create("openai", "work", active=True)
    keys.store_key("openai", "sk-work-key-0123456789", profile="work")
    profiles.rename("openai", "work", "job")
    assert keychain.lookup("openai:work") is None
    assert keychain.lookup("openai:job") == "sk-work-key-0123456789"
    assert profiles.active_profile("openai") == "job"
    profiles.delete("openai", "job")
    assert keychain.lookup("openai:job") is None
    assert profiles.active_profile("openai") is None
