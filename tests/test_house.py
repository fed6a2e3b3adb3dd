"""The house rule import-linter cannot check: grimp knows an external package only by its top
name ("rich"), so "the core never imports rich.prompt" is checked here on the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import swebench_tasks

ROOT = Path(swebench_tasks.__file__).parent
FRONTS = ("cli", "wizard", "__main__")  # the only places that prompt


def core_files() -> list[Path]:
    return [p for p in ROOT.rglob("*.py") if p.relative_to(ROOT).parts[0].removesuffix(".py") not in FRONTS]


def imported(source: str) -> set[str]:
    """Every module a source names in an import, at any depth (inside functions too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("source", ["from rich.prompt import Confirm", "from rich import prompt",
                                    "def f():\n    import rich.prompt\n"])
def test_the_check_sees_every_spelling(source: str) -> None:
    assert "rich.prompt" in imported(source)


def test_the_core_never_imports_rich_prompt() -> None:
    files = core_files()
    offenders = sorted(str(p.relative_to(ROOT)) for p in files if "rich.prompt" in imported(p.read_text()))
    assert len(files) > 20 and offenders == []


def test_every_registered_provider_declares_itself_once() -> None:
    """The registry is NAMES plus each module's INFO; the lists elsewhere are read from it."""
    from swebench_tasks import config, keys, profiles
    from swebench_tasks.providers import NAMES, info, infos
    from swebench_tasks.wizard.connect import LABELS

    assert [info(name).name for name in NAMES] == list(NAMES)
    assert sorted(i.menu for i in infos()) == list(range(1, len(NAMES) + 1))  # one place each in the wizard
    assert config.PROVIDERS == profiles.PROVIDERS == NAMES and set(LABELS) == set(NAMES)
    assert keys.key_env("sb-cli") == "SWEBENCH_API_KEY" and keys.key_env("ollama") is None
