"""Names from data as file names (files.safe_name), the atomic write, and the checks that keep
ids, run ids, model names, dataset names and catalog ids from becoming paths or `.env` lines."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from swebench_tasks import datasets, harness
from swebench_tasks.config import load_settings, read_dotenv, save_defaults
from swebench_tasks.errors import UsageError
from swebench_tasks.files import MAX_NAME, is_safe_name, safe_name, write_atomic
from swebench_tasks.generation import record_path
from swebench_tasks.providers import is_chat_model

HOSTILE = ["../../x", "x/../../../y", "/etc/passwd", "a" * 300, "bad\nid", "cr\rid", "nul\x00id",
           "esc\x1b[31m", ".", "..", "", ".hidden", "-rf", "sp ace", "café", "\ud800"]
ORDINARY = ["django__django-11099", "astropy__astropy-12907", "sympy__sympy-20590", "gpt-4o-mini",
            "llama3.1:8b", "openai__gpt-4o:free", "lite-gpt-4o-mini", "a" * MAX_NAME]


@pytest.mark.parametrize("name", ORDINARY)
def test_ordinary_names_are_unchanged(name):
    assert safe_name(name) == name and is_safe_name(name)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_become_one_plain_component(name):
    mapped = safe_name(name)
    assert mapped != name and is_safe_name(mapped)
    assert "/" not in mapped and mapped not in (".", "..") and not mapped.startswith((".", "-"))
    assert len(mapped) <= MAX_NAME and mapped.isascii() and mapped.isprintable()
    assert safe_name(name) == mapped  # deterministic: the same id finds its files again


def test_mapped_names_are_readable_and_distinct():
    assert safe_name("../../x").startswith("x-") and safe_name("x/../../../y").startswith("x_y-")
    assert len({safe_name(n) for n in HOSTILE}) == len(HOSTILE)
    assert safe_name("a" * 300) != safe_name("a" * 301)


def test_write_atomic_replaces_whole_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "f.json"
    write_atomic(target, "one")
    write_atomic(target, "two")
    assert target.read_text() == "two" and os.listdir(target.parent) == ["f.json"]

    class Boom(Exception):
        pass

    from swebench_tasks.files import atomic_file

    with pytest.raises(Boom):
        with atomic_file(target) as fh:
            fh.write("half")
            raise Boom
    assert target.read_text() == "two" and os.listdir(target.parent) == ["f.json"]


def test_every_path_from_an_id_stays_in_its_folder(tmp_path):
    for iid in HOSTILE[:8]:
        rec = record_path(tmp_path / "gen", "openai", "../../m\n", iid)
        log = harness.instance_log_dir(tmp_path / "logs", "run", "../m", iid)
        report = harness.summary_report_path(tmp_path / "reports", "a/../../b" * 40, "..")
        for path, folder in ((rec, tmp_path / "gen"), (log, tmp_path / "logs"), (report, tmp_path / "reports")):
            assert path.resolve().is_relative_to(folder) and all(is_safe_name(p) for p in
                                                                 path.relative_to(folder).parts)
    # ordinary ids keep the layout earlier runs wrote (and the harness writes)
    assert record_path(Path("g"), "openai", "gpt-4o", "django__django-11099") == \
        Path("g/openai__gpt-4o/django__django-11099.json")
    assert harness.instance_log_dir(Path("l"), "r", "openai/gpt-4o", "a__b-1") == Path("l/r/openai__gpt-4o/a__b-1")


@pytest.mark.parametrize("run_id", [".", "..", "", "a/b", "../x", "/abs", "a\nb", "-x", "x" * 101])
def test_run_id_flag_refuses_what_is_not_a_folder_name(workspace, run_id):
    with pytest.raises(UsageError, match="--run-id") as err:
        load_settings(Path.cwd(), run_id=run_id)
    assert err.value.exit_code == 2


def test_default_run_id_and_harness_model_name_are_plain(workspace):
    s = load_settings(Path.cwd(), dataset="lite", model="x" * 300)
    assert is_safe_name(s.effective_run_id) and is_safe_name(s.model_name)
    assert load_settings(Path.cwd(), model="openai/gpt-4o").model_name == "openai/gpt-4o"
    assert load_settings(Path.cwd(), model="../..").model_name == safe_name("../..")


@pytest.mark.parametrize("flag,field", [("--model", "model"), ("--provider", "provider"),
                                        ("--dataset", "dataset"), ("--profile", "profile")])
@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\x00b"])
def test_flag_with_a_control_character_is_refused_by_name(workspace, flag, field, bad):
    with pytest.raises(UsageError, match=f"^{flag} must be one line") as err:
        load_settings(Path.cwd(), **{field: bad})
    assert err.value.exit_code == 2
    with pytest.raises(UsageError, match="--instance-ids"):
        load_settings(Path.cwd(), instance_ids=("ok", bad))


VALUES = ["gpt-${HOME}-x", "a#b", "x=y", "it's", 'say "hi"', "$HOME", "back\\slash\\", " spaced out ",
          "a ' b \" c", "\\'", "#start", "${UNSET:-default}", "ünï"]


def test_dotenv_values_round_trip_exactly(workspace):
    values = {f"SWEBENCH_V{i}": v for i, v in enumerate(VALUES)}
    Path(".env").write_text("# kept\nOTHER=1\n")
    assert save_defaults(Path.cwd(), values) == list(values)
    assert read_dotenv(Path(".env")) == {"OTHER": "1", **values}
    assert Path(".env").read_text().startswith("# kept\nOTHER=1\n")
    assert save_defaults(Path.cwd(), values) == []  # read back equal: nothing to write


def test_hand_written_dollar_is_not_interpolated(workspace, monkeypatch):
    monkeypatch.setenv("HOME", "/home/someone")
    Path(".env").write_text("SWEBENCH_MODEL=gpt-${HOME}-x\nSWEBENCH_PROVIDER=openai\n")
    assert load_settings(Path.cwd()).model == "gpt-${HOME}-x"


@pytest.mark.parametrize("bad", ["m\nSWEBENCH_HARNESS_PYTHON=./evil.sh", "m\rX=99", "m\x00"])
def test_multiline_value_is_refused_and_nothing_written(workspace, bad):
    Path(".env").write_text("SWEBENCH_PROVIDER=openai\n")
    with pytest.raises(UsageError, match="SWEBENCH_MODEL"):
        save_defaults(Path.cwd(), {"SWEBENCH_DATASET": "lite", "SWEBENCH_MODEL": bad})
    assert Path(".env").read_text() == "SWEBENCH_PROVIDER=openai\n"


def rows(*ids, **extra) -> list[dict]:
    return [{"instance_id": i, "problem_statement": "p", **extra} for i in ids]


def test_duplicate_and_non_text_ids_are_refused_naming_the_id():
    with pytest.raises(UsageError, match="'a__b-1' appears twice"):
        datasets.check_rows(rows("a__b-1", "c__d-2", "a__b-1"), "data.jsonl")
    with pytest.raises(UsageError, match="non-text instance_id 7"):
        datasets.check_rows(rows(7), "data.jsonl")
    with pytest.raises(UsageError, match="not a git revision"):
        datasets.check_rows(rows("a", base_commit="--output=/tmp/x"), "data.jsonl")
    datasets.check_rows(rows(*HOSTILE[:8], base_commit="0" * 40), "data.jsonl")  # generation takes any id


def test_harness_refuses_unsafe_ids_and_classic_rows():
    five_x = {f: "x" for f in datasets.EVALUATION_FIELDS if f != "instance_id"}
    datasets.check_evaluable(rows("django__django-11099", **five_x))
    for iid in HOSTILE[:8]:
        with pytest.raises(UsageError, match="cannot be evaluated") as err:
            datasets.check_evaluable(rows("ok-1", iid, **five_x))
        assert repr(iid) in err.value.message and "--instance-ids" in err.value.fix
    classic = {k: v for k, v in five_x.items() if k not in ("image", "eval_script", "log_parser", "eval_type")}
    with pytest.raises(UsageError, match="classic SWE-bench format") as err:
        datasets.check_evaluable(rows("a__b-1", **classic))
    assert "5.x dataset" in err.value.fix and "builds its own images" in err.value.fix


@pytest.mark.parametrize("name", ["nosuch", "../x", "a/..", "a/b/c", "-a/b", "a/b.", "a\nb/c", ""])
def test_dataset_name_must_be_alias_file_or_hub_id(workspace, name):
    with pytest.raises(UsageError, match="unknown dataset|does not exist"):
        datasets.resolve(name, Path.cwd())


def test_dataset_names_that_resolve(workspace):
    Path("mine.parquet").write_bytes(b"")
    assert datasets.resolve("lite", Path.cwd()) == "SWE-bench/SWE-bench_Lite"
    assert datasets.resolve("princeton-nlp/SWE-bench_Lite_bm25_13K", Path.cwd()).endswith("13K")
    assert datasets.resolve("mine.parquet", Path.cwd()) == str(Path("mine.parquet").resolve())
    with pytest.raises(UsageError, match="does not exist"):
        datasets.resolve("gone.jsonl", Path.cwd())


@pytest.mark.parametrize("model_id", ["text-embedding-3-small", "omni-moderation-latest", "tts-1", "gpt-4o-mini-tts",
                                      "whisper-1", "dall-e-3", "gpt-image-1", "gpt-4o-realtime-preview",
                                      "gpt-4o-transcribe", "babbage-002", "nomic-embed-text", "x\ny", "a\x1b[2J"])
def test_non_chat_or_control_ids_are_not_offered(model_id):
    assert not is_chat_model(model_id)


def test_chat_ids_and_catalog_modalities():
    for model_id in ("gpt-4o", "o3-mini", "claude-3-5-sonnet-20241022", "llama3.1:8b", "meta-llama/llama-3.1-8b-instruct"):
        assert is_chat_model(model_id)
    assert not is_chat_model("acme/painter", {"architecture": {"modality": "text->image"}})
    assert not is_chat_model("acme/painter", {"architecture": {"output_modalities": ["image"]}})
    assert is_chat_model("acme/vision", {"architecture": {"modality": "text+image->text"}})


def test_predictions_row_ids_must_be_text(workspace):
    from swebench_tasks.stages.runcontext import RunContext

    Path("p.jsonl").write_text(json.dumps({"instance_id": 1, "model_patch": ""}) + "\n")
    graph = RunContext(load_settings(Path.cwd(), predictions=Path("p.jsonl"), dataset="lite"))
    with pytest.raises(UsageError, match="row 0 lacks instance_id"):
        graph.given_predictions()
