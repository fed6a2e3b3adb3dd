"""Input nobody here wrote, through the real CLI: ids that look like paths, run ids that are
folders, `.env` values that look like lines or variables. Each test walks the filesystem
afterwards: nothing is created outside the working directory's own folders and the config dir.

Generation runs against the OpenAI-protocol loopback server; the tests marked `docker`
evaluate with the real harness on the real engine (tests/support/engine.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dotenv import dotenv_values

from swebench_tasks.files import safe_name
from tests.test_run import DIFF, chats, error_lines, swebench

OWN = (".swebench", "results", "evaluation_results", "logs")


def hostile_ids(root: Path) -> list[str]:
    """The ids from the issue, plus deeper traversals and an absolute path under the test's root."""
    return ["../../x", "x/../../../y", "../../../../../../escaped", str(root / "abs-escaped"),
            "a" * 300, "bad\nid", "cr\rid", "nul\x00id", "esc\x1b[31mred", "..", "."]


def snapshot(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def assert_only_own_folders(root: Path, work: Path, before: set[Path], inputs: tuple[str, ...] = ()) -> None:
    """Every path created under `root` since `before` is in one of the working directory's own
    folders, or the config dir."""
    allowed = [work / name for name in OWN] + [root / "config"] + [work / name for name in inputs]
    stray = [p for p in snapshot(root) - before
             if not any(p == a or p.is_relative_to(a) for a in allowed)]
    assert stray == []
    assert not (root / "abs-escaped").exists() and not Path(str(root / "abs-escaped") + ".json").exists()


def write_rows(path: Path, ids: list[str], **extra) -> Path:
    rows = [{"instance_id": iid, "repo": "acme/calc", "base_commit": "0" * 40, "version": "1.0",
             "problem_statement": f"add() subtracts (case {n})", "patch": "", **extra}
            for n, iid in enumerate(ids)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def root(workspace: Path) -> Path:
    return workspace.parent  # holds work/ (the cwd) and config/ (SWEBENCH_CONFIG_DIR)


@pytest.fixture
def provider(workspace, openai_server, provider_env, monkeypatch):
    for var, value in provider_env.items():
        monkeypatch.setenv(var, value)
    openai_server.on_chat = lambda body: DIFF
    return openai_server


def test_hostile_ids_in_a_dataset_generate_inside_the_working_directory(root, workspace, provider):
    ids = ["acme__calc-1", *hostile_ids(root)]
    write_rows(Path("data.jsonl"), ids)
    before = snapshot(root)
    args = ("run", "--no-input", "--json", "--provider", "openai", "--model", "gpt-4o-mini",
            "--context", "statement", "--generate-only", "-d", "data.jsonl")
    out = swebench(*args)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["selected"] == summary["generated"] == len(ids) and summary["empty_patches"] == 0
    assert chats(provider) == len(ids)
    records = Path(".swebench/generations/openai__gpt-4o-mini")
    assert sorted(p.name for p in records.iterdir()) == sorted(f"{safe_name(i)}.json" for i in ids)
    assert {json.loads((records / f"{safe_name(i)}.json").read_text())["instance_id"] for i in ids} == set(ids)
    preds = [json.loads(line) for line in Path(summary["predictions_path"] if "predictions_path" in summary
                                               else f".swebench/runs/{summary['run_id']}/predictions.jsonl")
             .read_text().splitlines()]
    assert sorted(p["instance_id"] for p in preds) == sorted(ids)  # the data keeps the real ids
    assert_only_own_folders(root, workspace, before, ("data.jsonl",))

    again = swebench(*args)  # the mapped names are found again: nothing is stale
    assert again.returncode == 0, again.stderr
    assert chats(provider) == len(ids) and json.loads(again.stdout)["tasks"]["executed"] == []


def test_hostile_ids_in_a_predictions_file_stay_inside(root, workspace):
    ids = ["acme__calc-1", *hostile_ids(root)]
    write_rows(Path("data.jsonl"), ids)
    Path("preds.jsonl").write_text("".join(
        json.dumps({"instance_id": i, "model_name_or_path": "../../../../model\n", "model_patch": ""}) + "\n"
        for i in ids))
    before = snapshot(root)
    out = swebench("run", "--no-input", "--json", "--predictions", "preds.jsonl", "-d", "data.jsonl",
                   "--generate-only")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["selected"] == len(ids) and summary["empty_patches"] == len(ids)
    assert summary["model"] == safe_name("../../../../model\n")
    results = Path(summary["results_dir"])
    assert sorted(p.name for p in results.iterdir() if p.is_dir()) == sorted(safe_name(i) for i in ids)
    assert all((results / safe_name(i) / "patch.diff").read_text() == "" for i in ids)
    assert_only_own_folders(root, workspace, before, ("data.jsonl", "preds.jsonl"))


@pytest.mark.parametrize("run_id", ["..", ".", "", "a/b", "../../up", "/abs"])
def test_run_id_that_is_not_a_folder_name_is_exit_2(root, workspace, run_id):
    write_rows(Path("data.jsonl"), ["acme__calc-1"])
    before = snapshot(root)
    out = swebench("run", "--no-input", "--model", "gold", "-d", "data.jsonl", "--generate-only",
                   "--run-id", run_id)
    assert out.returncode == 2
    assert error_lines(out.stderr) == [line for line in error_lines(out.stderr) if "--run-id" in line] != []
    assert_only_own_folders(root, workspace, before, ("data.jsonl",))
    assert not Path("summary.json").exists() and not (root / "summary.json").exists()


def test_duplicate_ids_are_exit_2_naming_the_id(workspace):
    write_rows(Path("data.jsonl"), ["acme__calc-1", "dup", "dup"])
    out = swebench("run", "--no-input", "--model", "gold", "-d", "data.jsonl", "--generate-only")
    assert out.returncode == 2 and "duplicated definition" not in out.stderr
    assert len(error_lines(out.stderr)) == 1 and "'dup' appears twice" in out.stderr


def test_models_lists_chat_models_only(workspace, provider):
    provider.models = ["gpt-4o", "text-embedding-3-small", "omni-moderation-latest", "tts-1", "whisper-1",
                       "dall-e-3", "gpt-4o-mini", "evil\nSWEBENCH_HARNESS_PYTHON=./x.sh", "esc\x1b]0;t\x07"]
    out = swebench("models", "openai", "--json")
    assert out.returncode == 0, out.stderr
    assert [m["id"] for m in json.loads(out.stdout)["models"]] == ["gpt-4o", "gpt-4o-mini"]
    plain = swebench("models", "openai", "--no-input")
    assert plain.stdout.split() == ["gpt-4o", "gpt-4o-mini"]


# -- .env ------------------------------------------------------------------------------------

INJECTION = "gpt-4o-mini\nSWEBENCH_HARNESS_PYTHON=./evil.sh\nOPENAI_API_KEY=sk-injected"


# (argv cannot carry a NUL; tests/test_files.py refuses it where it can arrive)
@pytest.mark.parametrize("flag,value", [("--model", INJECTION), ("--model", "gpt\rX=99"), ("--model", "m\x1b[2J"),
                                        ("--provider", "openai\nX=1"), ("--dataset", "lite\nX=1")])
def test_setup_refuses_a_value_that_would_add_a_line(root, workspace, flag, value):
    Path("evil.sh").write_text("#!/bin/sh\ntouch PWNED\n")
    Path("evil.sh").chmod(0o755)
    flags = {"--provider": "openai", "--model": "gpt-4o-mini", flag: value}
    before = snapshot(root)
    out = swebench("setup", "--no-input", *[x for kv in flags.items() for x in kv])
    assert out.returncode == 2
    assert error_lines(out.stderr) == [error_lines(out.stderr)[0]] and error_lines(out.stderr)[0].startswith(
        f"swebench: {flag} must be one line")
    assert snapshot(root) == before and not Path(".env").exists()
    pre = swebench("preflight", "--no-input", "--model", "gold", "-d", "missing.jsonl")
    assert pre.returncode == 2 and not Path("PWNED").exists()


@pytest.mark.parametrize("model", ["gpt-${HOME}-x", "a#b", "x=y", "it's \"quoted\"", " $PATH ", "back\\slash\\"])
def test_values_round_trip_from_setup_to_the_provider(workspace, provider, model):
    write_rows(Path("data.jsonl"), ["acme__calc-1", "acme__calc-2"])
    provider.models = [model]
    out = swebench("setup", "--no-input", "--provider", "openai", "--model", model, "-d", "data.jsonl",
                   "--count", "1")
    assert out.returncode == 0, out.stderr
    assert dotenv_values(".env", interpolate=False)["SWEBENCH_MODEL"] == model
    run = swebench("run", "--no-input", "--json", "--context", "statement", "--generate-only")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["selected"] == 1 and summary["generated"] == 1
    sent = [r.body["model"] for r in provider.requests if r.path.endswith("/chat/completions")]
    assert sent == [model]


def test_setup_checks_the_dataset(workspace):
    out = swebench("setup", "--no-input", "--provider", "openai", "--model", "gpt-4o-mini", "-d", "nosuch")
    assert out.returncode == 2 and "unknown dataset 'nosuch'" in out.stderr and "owner/name" in out.stderr
    assert not Path(".env").exists()
    out = swebench("setup", "--no-input", "--provider", "openai", "--model", "gpt-4o-mini", "-d", "gone.jsonl")
    assert out.returncode == 2 and "does not exist" in out.stderr and not Path(".env").exists()
    for ok in ("verified", "acme/my-bench"):
        out = swebench("setup", "--no-input", "--provider", "openai", "--model", "gpt-4o-mini", "-d", ok)
        assert out.returncode == 0, out.stderr
        assert dotenv_values(".env")["SWEBENCH_DATASET"] == ok


# -- through the real harness ------------------------------------------------------------------

@pytest.fixture
def mixed_dataset(root, workspace, instance_dataset, docker_engine):
    """The real instances' rows followed by hostile ids on a copy of a real row (same image)."""
    good = instance_dataset.hub_ids[0]
    template = instance_dataset.row(good)
    hostile = [{**template, "instance_id": iid} for iid in hostile_ids(root)]
    path = instance_dataset.write(Path("data.jsonl"), rows=[template, *hostile])
    yield path, good, [r["instance_id"] for r in hostile]
    docker_engine.remove_images(template["image"])


@pytest.mark.docker
def test_harness_never_sees_a_hostile_id(root, workspace, mixed_dataset, instance_dataset):
    path, good, hostile = mixed_dataset
    before = snapshot(root)
    out = swebench("run", "--no-input", "--json", "--model", "gold", "-d", "data.jsonl", "--no-preflight")
    assert out.returncode == 2
    [line] = error_lines(out.stderr)
    assert repr(hostile[0]) in line and "--instance-ids" in line
    error = json.loads(out.stdout)["error"] if out.stdout.strip() else None
    assert error is None or error["exit_code"] == 2
    assert not Path("logs").exists() and not Path("evaluation_results").exists()

    preds = instance_dataset.write_predictions(Path("preds.jsonl"), {i: "" for i in [good, *hostile]})
    out = swebench("run", "--no-input", "--predictions", str(preds), "-d", "data.jsonl", "--no-preflight")
    assert out.returncode == 2 and repr(hostile[0]) in out.stderr

    pre = swebench("preflight", "--no-input", "--model", "gold", "-d", "data.jsonl", "--instance-ids", hostile[4])
    assert pre.returncode == 2 and repr(hostile[4]) in pre.stderr
    assert not Path("logs").exists()
    assert_only_own_folders(root, workspace, before, ("data.jsonl", "preds.jsonl"))

    # the same dataset, the ordinary id selected: evaluated for real, beside the hostile rows
    run = swebench("run", "--no-input", "--json", "--model", "gold", "-d", "data.jsonl", "--no-preflight",
                   "--instance-ids", good, timeout=900)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["resolved_ids"] == [good]
    assert_only_own_folders(root, workspace, before, ("data.jsonl", "preds.jsonl"))


@pytest.mark.docker
def test_classic_rows_are_refused_with_the_fix(workspace, instance_dataset, docker_engine):
    classic = {k: v for k, v in instance_dataset.rows[0].items() if k not in ("image", "eval_script", "log_parser")}
    instance_dataset.write(Path("classic.jsonl"), rows=[classic])
    out = swebench("run", "--no-input", "--model", "gold", "-d", "classic.jsonl")
    assert out.returncode == 2
    [line] = error_lines(out.stderr)
    assert "classic SWE-bench format" in line and "5.x dataset" in line and "builds its own images" in line
    assert not Path("logs").exists()
    gen = swebench("run", "--no-input", "--json", "--model", "gold", "-d", "classic.jsonl", "--generate-only")
    assert gen.returncode == 0, gen.stderr


def test_ids_and_names_from_data_never_reach_the_terminal_as_control_or_markup():
    """An ESC sequence or rich markup in an id or model name is shown, not obeyed."""
    import io

    from rich.console import Console

    from swebench_tasks.ui import Ui, printable

    assert printable("django__django-11099") == "django__django-11099"
    assert printable("a\x1b[2Jb\nc\x00") == "a\\x1b[2Jb\\nc\\x00"
    ui = Ui(no_input=True)
    out = io.StringIO()
    ui.__dict__["console"] = Console(file=out, color_system=None, force_terminal=False, width=200)
    summary = {"run_id": "r", "provider": "openai", "model": "[/]x[bold]\x1b[31m", "dataset": "d",
               "selected": 1, "generated": 0, "applied": None, "evaluated": 0, "resolved": 0, "unresolved": 0,
               "errors": 1, "empty_patches": 0, "tokens": {"input": 0, "output": 0}, "cost_usd": None,
               "results_dir": "results/r", "predictions_path": None, "report_path": None,
               "error_ids": ["bad\x1b]0;title\x07id"], "error_reasons": {"bad\x1b]0;title\x07id": "[red]no diff"}}
    ui.summary(summary)
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text
    assert "[/]x[bold]\\x1b[31m" in text and "[red]no diff" in text
