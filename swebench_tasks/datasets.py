"""SWE-bench datasets: aliases, Hugging Face ids and local files, cached as JSONL.

Only `fetch` imports Hugging Face `datasets` (0.8 s); every later run reads the cache
under `.swebench/datasets/` with the standard library.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from swebench_tasks.errors import UsageError
from swebench_tasks.files import atomic_file, is_safe_name, safe_name, slug

ALIASES = {
    "lite": "SWE-bench/SWE-bench_Lite",
    "verified": "SWE-bench/SWE-bench_Verified",
    "full": "SWE-bench/SWE-bench",
    "multimodal": "SWE-bench/SWE-bench_Multimodal",
    "multilingual": "SWE-bench/SWE-bench_Multilingual",
}
LOCAL_SUFFIXES = (".json", ".jsonl", ".parquet")
# What generation needs of a row, and what the 5.x harness needs to evaluate it.
GENERATION_FIELDS = ("instance_id", "problem_statement")
EVALUATION_FIELDS = (
    "instance_id",
    "repo",
    "version",
    "image",
    "eval_script",
    "log_parser",
    "eval_type",
    "FAIL_TO_PASS",
    "PASS_TO_PASS",
)
# A Hugging Face dataset id as the Hub accepts it: owner/name, no '..', no leading or trailing '.' '-'.
HUB_ID = re.compile(
    r"(?!.*\.\.)[A-Za-z0-9](?:[\w.-]{0,94}[A-Za-z0-9])?/[A-Za-z0-9](?:[\w.-]{0,94}[A-Za-z0-9])?", re.ASCII
)
# Retrieval hands base_commit to git as an argument: a revision, never an option or a second word.
COMMIT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,254}")


def is_local(dataset: str) -> bool:
    return dataset.endswith(LOCAL_SUFFIXES)


def resolve(dataset: str, workdir: Path) -> str:
    """The Hugging Face id for an alias, the absolute path for a local file."""
    if is_local(dataset):
        path = (workdir / dataset).resolve()
        if not path.is_file():
            raise UsageError(
                f"dataset file {dataset} does not exist", fix="pass an existing .json/.jsonl/.parquet with -d"
            )
        return str(path)
    name = ALIASES.get(dataset.lower(), dataset)
    if not HUB_ID.fullmatch(name):
        raise UsageError(
            f"unknown dataset {dataset!r}",
            fix=f"use one of {', '.join(ALIASES)}, a Hugging Face id (owner/name) "
            "or an existing .json/.jsonl/.parquet file",
        )
    return name


def cache_path(state_dir: Path, dataset: str, split: str, workdir: Path) -> Path:
    """One cache file per (dataset, split); a local file is keyed by its path."""
    name = resolve(dataset, workdir)
    key = slug(name.replace("/", "__")) if not is_local(dataset) else slug(Path(name).stem) + "-" + _short_hash(name)
    return state_dir / "datasets" / f"{safe_name(f'{key}-{slug(split)}')}.jsonl"


def _short_hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:8]


def fetch(dataset: str, split: str, workdir: Path, dest: Path) -> int:
    """Load the dataset (local file or Hub) and write it to `dest` atomically; returns rows."""
    name = resolve(dataset, workdir)
    rows = read_local(Path(name)) if is_local(dataset) else _read_hub(name, split)
    check_rows(rows, name)
    write_jsonl(dest, rows)
    return len(rows)


def read_local(path: Path) -> list[dict]:
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path).to_pylist()
        text = path.read_text()
        if path.suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        data = json.loads(text)
        return list(data.values()) if isinstance(data, dict) else data
    except (OSError, ValueError, ImportError) as exc:
        raise UsageError(
            f"cannot read {path}: {exc}", fix="pass a valid .json/.jsonl/.parquet in the harness row schema"
        ) from None


def _read_hub(name: str, split: str) -> list[dict]:
    """`datasets.load_dataset`, unchanged, behind a bounded reachability check: an unreachable
    Hub makes huggingface_hub retry for about 25 s before it even looks in its cache. When the
    Hub does not answer, the load runs offline, so only a cached copy can serve it."""
    hub = _hub_endpoint()
    offline = _offline_switch()
    unreachable = None if offline else _hub_unreachable(hub, name)
    try:
        return _load_hub(name, split, offline=bool(offline or unreachable))
    except Exception as exc:  # datasets raises many types for offline/missing/auth
        if unreachable:
            raise UsageError(
                f"cannot reach the Hugging Face Hub at {hub} ({unreachable}) and {name} is not cached",
                fix="connect to the network or set HF_ENDPOINT to a reachable Hub, or pass a local .jsonl with -d",
            ) from None
        if offline:
            raise UsageError(
                f"dataset {name} (split {split}) is not in the Hugging Face cache and {offline} is set",
                fix=f"unset {offline} to fetch it once, or pass a local .jsonl with -d",
            ) from None
        raise UsageError(
            f"cannot fetch dataset {name} (split {split}): {_first_line(exc)}",
            fix="check the network and HF_TOKEN, or pass a local .jsonl with -d",
        ) from None


def _load_hub(name: str, split: str, *, offline: bool) -> list[dict]:
    """huggingface_hub reads HF_HUB_OFFLINE when it is imported (just below, in a fresh CLI): it
    is set for that import and the load only, so no child process (the harness) inherits it."""
    saved = os.environ.get("HF_HUB_OFFLINE")
    if offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        from datasets import load_dataset

        return [dict(row) for row in load_dataset(name, split=split)]
    finally:
        if saved is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved


def _hub_endpoint() -> str:
    from swebench_tasks.providers._openai_compat import endpoint
    from swebench_tasks.providers.huggingface import HUB_URL

    return endpoint("HF_ENDPOINT", HUB_URL)


def _offline_switch() -> str | None:
    """The variable that puts `datasets` offline, if one does (HF_DATASETS_OFFLINE, when set,
    wins over the Hub's own switches, as in `datasets.config`)."""
    own = "HF_DATASETS_OFFLINE"
    names = [own] if own in os.environ else ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"]
    on = [n for n in names if os.environ.get(n, "").strip().upper() in ("1", "ON", "YES", "TRUE")]
    return on[0] if on else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _hub_unreachable(hub: str, name: str) -> str | None:
    """Why the Hub cannot be reached (refused, unresolvable, silent), or None if it answers
    anything at all: what it answers is for `datasets` to interpret."""
    import httpx

    try:  # the bound huggingface_hub puts on its own metadata requests (default 10 s)
        timeout = float(os.environ.get("HF_HUB_ETAG_TIMEOUT") or 10)
    except ValueError:
        timeout = 10.0
    try:
        httpx.head(f"{hub}/api/datasets/{name}", timeout=timeout)
    except httpx.TransportError as exc:
        return _first_line(exc)
    return None


def check_rows(rows: object, name: str) -> None:
    """Reject a malformed dataset before anything is cached: each row an object with the
    fields generation needs, ids that are text and unique (each names a doit task)."""
    if not isinstance(rows, list) or not rows:
        raise UsageError(f"dataset {name} has no rows", fix="pass a dataset with at least one row")
    seen: set[str] = set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise UsageError(f"dataset {name}: row {i} is not an object", fix="fix the dataset file")
        missing = [f for f in GENERATION_FIELDS if not row.get(f)]
        if missing:
            raise UsageError(
                f"dataset {name}: row {i} ({row.get('instance_id', '?')!r}) lacks {', '.join(missing)}",
                fix="fix the dataset file (harness row schema)",
            )
        iid = row["instance_id"]
        if not isinstance(iid, str):
            raise UsageError(
                f"dataset {name}: row {i} has a non-text instance_id {iid!r}", fix="make every instance_id a string"
            )
        if iid in seen:
            raise UsageError(
                f"dataset {name}: instance id {iid!r} appears twice",
                fix="keep one row per instance_id in the dataset file",
            )
        seen.add(iid)
        commit = row.get("base_commit")
        if commit is not None and not (isinstance(commit, str) and COMMIT.fullmatch(commit)):
            raise UsageError(
                f"dataset {name}: row {iid!r} has base_commit {commit!r}, not a git revision",
                fix="give base_commit as the commit's hash",
            )


def check_evaluable(rows: list[dict]) -> None:
    """What the official 5.x harness cannot take, refused before any work is done.

    It names a log folder after each instance id (and a container), and takes the id from the
    dataset: an id that is not a plain folder name must not reach it. Rows in the classic
    SWE-bench format (no image, eval_script, log_parser) fail inside it with a KeyError.
    """
    for row in rows:
        if not is_safe_name(row["instance_id"]):
            raise UsageError(
                f"instance id {row['instance_id']!r} cannot be evaluated: the harness would use it as a folder name",
                fix="rename it in the dataset (letters, digits, '.', '_', '-'; at most 100 characters), "
                "leave it out with --instance-ids, or stop before evaluation with --generate-only",
            )
    gaps = missing_evaluation_fields(rows)
    if gaps:
        iid, missing = next(iter(gaps.items()))
        raise UsageError(
            f"{len(gaps)} selected row(s), e.g. {iid!r}, lack {', '.join(missing)}, which the swebench 5.x "
            "harness needs (rows in the classic SWE-bench format have no image, eval_script or log_parser)",
            fix="use a 5.x dataset (-d lite, verified or full carry image, eval_script and log_parser), "
            "or --generate-only and evaluate the predictions with a harness that builds its own images",
        )


def missing_evaluation_fields(rows: list[dict]) -> dict[str, list[str]]:
    """Rows the 5.x harness cannot evaluate (it raises KeyError on them), by instance id."""
    gaps = {}
    for row in rows:
        missing = [f for f in EVALUATION_FIELDS if f not in row or row[f] is None]
        if missing:
            gaps[row["instance_id"]] = missing
    return gaps


def write_jsonl(dest: Path, rows: list[dict]) -> None:
    """Write rows atomically: readers see the old file or the new one, never half."""
    with atomic_file(dest) as fh:
        for row in rows:
            fh.write(json.dumps(row, default=str) + "\n")


def load_cached(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def select(rows: list[dict], count: int | None, instance_ids: tuple[str, ...] | list[str]) -> list[dict]:
    """`--instance-ids` wins over `--count`; `--count N` takes the first N in dataset order."""
    if instance_ids:
        by_id = {row["instance_id"]: row for row in rows}
        unknown = [i for i in instance_ids if i not in by_id]
        if unknown:
            raise UsageError(
                f"unknown instance id{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
                fix="check --instance-ids against the dataset (swebench doit info dataset)",
            )
        return [by_id[i] for i in dict.fromkeys(instance_ids)]
    return rows[:count] if count else list(rows)
