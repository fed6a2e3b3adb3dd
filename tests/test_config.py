"""Settings precedence (flag > environment > .env > default) and `.env` writing."""

from __future__ import annotations

from pathlib import Path

import pytest

from swebench_tasks.config import load_settings, read_dotenv, save_defaults
from swebench_tasks.errors import UsageError


def test_precedence_flag_env_dotenv_default(workspace, monkeypatch):
    root = Path.cwd()
    assert load_settings(root).dataset == "lite"
    (root / ".env").write_text("SWEBENCH_DATASET=verified\nSWEBENCH_COUNT=3\n")
    assert load_settings(root).dataset == "verified"
    monkeypatch.setenv("SWEBENCH_DATASET", "full")
    assert load_settings(root).dataset == "full"
    assert load_settings(root, dataset="x/y").dataset == "x/y"
    assert load_settings(root).count == 3


def test_bad_integer_names_the_variable(workspace):
    Path(".env").write_text("SWEBENCH_MAX_WORKERS=lots\n")
    with pytest.raises(UsageError, match="SWEBENCH_MAX_WORKERS"):
        load_settings(Path.cwd())


def test_save_defaults_keeps_other_lines_and_user_values(workspace):
    Path(".env").write_text("# mine\nNO_COLOR=1\nSWEBENCH_DOCKER_NAMESPACE=mine.example/ns\n")
    written = save_defaults(Path.cwd(), {"SWEBENCH_MODEL": "m", "SWEBENCH_DOCKER_NAMESPACE": "other"},
                            overwrite=False)
    assert written == ["SWEBENCH_MODEL"]
    text = Path(".env").read_text()
    assert "# mine" in text and "NO_COLOR=1" in text and "SWEBENCH_DOCKER_NAMESPACE=mine.example/ns" in text
    assert read_dotenv(Path(".env"))["SWEBENCH_MODEL"] == "m"
    assert save_defaults(Path.cwd(), {"SWEBENCH_MODEL": "m"}) == []  # unchanged value: no write


def test_default_run_id_is_stable_per_dataset_and_model(workspace):
    s = load_settings(Path.cwd(), dataset="lite", model="org/model-1")
    assert s.effective_run_id == "lite-org_model-1"
    assert load_settings(Path.cwd(), run_id="mine").effective_run_id == "mine"
    with pytest.raises(UsageError):
        load_settings(Path.cwd(), run_id="bad/id")


def test_agent_mode_has_its_own_default_run_id(workspace):
    """Agent and single-shot results of one model must not overwrite each other under results/."""
    agent = load_settings(Path.cwd(), dataset="lite", model="org/model-1", agent="mini-swe-agent")
    assert agent.effective_run_id == "lite-org_model-1-mini-swe-agent"
    assert load_settings(Path.cwd(), dataset="lite", model="org/model-1", agent="none").effective_run_id == \
        "lite-org_model-1"
    assert agent.with_(run_id="mine").effective_run_id == "mine"
    assert agent.with_(model="gold").effective_run_id == "lite-gold"  # gold patches need no agent


def test_active_named_profile_model_wins_over_dotenv_not_over_env(workspace, monkeypatch):
    from swebench_tasks import profiles

    Path(".env").write_text("SWEBENCH_PROVIDER=openai\nSWEBENCH_MODEL=from-dotenv\n")
    assert load_settings(Path.cwd()).model == "from-dotenv"  # default profile: .env decides
    profiles.create("openai", "work", active=True, model="from-profile")
    assert load_settings(Path.cwd()).model == "from-profile"
    assert load_settings(Path.cwd(), model="from-flag").model == "from-flag"
    monkeypatch.setenv("SWEBENCH_MODEL", "from-env")
    assert load_settings(Path.cwd()).model == "from-env"
