"""A clean working directory per test (a pytest plugin).

The tool reads `.env` from the working directory, profiles from `SWEBENCH_CONFIG_DIR`, and
keys and endpoints from the environment; a test that inherits any of these from the
developer's shell or an earlier test would test that machine, not the code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CLEARED_PREFIXES = ("SWEBENCH_", "OPENAI_", "ANTHROPIC_", "OPENROUTER_", "HF_", "OLLAMA_")


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Chdir into a fresh directory, with a fresh config dir and no tool variables set."""
    for name in list(os.environ):
        if name.startswith(CLEARED_PREFIXES):
            monkeypatch.delenv(name)
    config = tmp_path / "config"
    work = tmp_path / "work"
    config.mkdir()
    work.mkdir()
    monkeypatch.setenv("SWEBENCH_CONFIG_DIR", str(config))
    monkeypatch.chdir(work)
    return work
