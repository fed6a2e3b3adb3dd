"""The fronts: help without heavy imports, `doit` on the same graph, report and clean."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from swebench_tasks import cli, images
from swebench_tasks.ui import Ui
from tests.test_run import swebench, write_dataset

ROOT = Path(__file__).resolve().parent.parent


def test_bare_command_without_tty_prints_help_and_exits_0(workspace):
    out = swebench()
    assert out.returncode == 0 and "Usage: swebench" in out.stdout
    assert "\x1b[" not in out.stdout


def test_help_imports_nothing_heavy(workspace):
    code = ("import sys, swebench_tasks.cli as c\n"
            "try:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('doit', 'rich', 'httpx', 'docker', 'datasets', 'InquirerPy', 'keyring',"
            " 'swebench.harness') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "HEAVY []" in out.stdout, out.stdout


def test_doit_front_and_checkout_dodo_show_the_same_graph(workspace):
    write_dataset(Path("data.jsonl"), n=2)
    Path(".env").write_text("SWEBENCH_MODEL=gold\nSWEBENCH_DATASET=data.jsonl\n")
    ours = swebench("doit", "list")
    assert ours.returncode == 0, ours.stderr
    plain = subprocess.run([sys.executable, "-m", "doit", "-f", str(ROOT / "dodo.py"), "-d", ".", "list"],
                           capture_output=True, text=True)
    assert plain.returncode == 0, plain.stderr
    names = {line.split()[0] for line in ours.stdout.splitlines()}
    assert {"dataset", "preflight", "generate", "evaluate", "report"} <= names
    assert names == {line.split()[0] for line in plain.stdout.splitlines()}
    run = swebench("doit", "run", "predictions")
    assert run.returncode == 0, run.stderr
    assert len(list(Path("results").glob("*/predictions.jsonl"))) == 1


def test_report_without_runs_is_exit_2_and_after_a_run_matches_json(workspace):
    out = swebench("report")
    assert out.returncode == 2 and "swebench run" in out.stderr
    write_dataset(Path("data.jsonl"), n=2)
    run = swebench("run", "--no-input", "--json", "--model", "gold", "-d", "data.jsonl", "--generate-only")
    summary = json.loads(run.stdout)
    report = json.loads(swebench("report", "--json").stdout)
    assert report == {k: v for k, v in summary.items() if k != "tasks"}
    assert json.loads(swebench("--json", "report", summary["run_id"]).stdout)["run_id"] == summary["run_id"]
    assert swebench("report", "nope").returncode == 2


def test_clean_dry_run_removes_nothing_then_runs_removes_run_state(workspace):
    write_dataset(Path("data.jsonl"), n=1)
    assert swebench("run", "--no-input", "--model", "gold", "-d", "data.jsonl", "--generate-only").returncode == 0
    dry = json.loads(swebench("clean", "--runs", "--dry-run", "--json").stdout)
    assert any(p.endswith("results") for p in dry["paths"]) and Path("results").exists()
    assert swebench("clean", "--runs").returncode == 0
    assert not Path("results").exists() and not Path(".swebench/runs").exists()
    assert Path(".swebench/datasets").exists()  # the dataset cache is a catalog, kept by --runs
    assert swebench("clean", "--catalog").returncode == 0
    assert not Path(".swebench/datasets").exists()


def test_only_a_person_at_the_terminal_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The core asks through the Ui's callbacks; the CLI gives them only when someone can answer:
    none under --no-input, hidden input only under --json, and `docker login` only after a yes."""
    quiet = cli.answered(Ui(no_input=True))
    assert (quiet.confirm, quiet.ask_secret, quiet.login) == (None, None, None)
    scripted = cli.answered(Ui(no_input=False, json=True))
    assert scripted.ask_secret is cli.hidden and scripted.confirm is None and scripted.login is None

    answers, logins = iter([False, True]), []
    monkeypatch.setattr("rich.prompt.Confirm.ask", lambda question, **kw: next(answers))
    monkeypatch.setattr(images, "docker_login", lambda host: logins.append(host) or True)
    person = cli.answered(Ui(no_input=False))
    assert person.login("registry.test") is False and logins == []  # declined: docker is not run
    assert person.login("registry.test") is True and logins == ["registry.test"]
