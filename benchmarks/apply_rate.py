"""How many real model replies become a patch that `git apply --check` accepts.

The corpus (benchmarks/data/, see its README) holds raw replies of a model to SWE-bench
Lite instances, with the texts of the files they touch at the base commit. Each reply
is checked in a temporary git checkout of those files, three ways:

- raw: the whole reply handed to `git apply` (git skips prose before a diff);
- naive: the first ```diff block, as a simple harness would take it;
- product: `patch_from_reply(reply, files)`, the patch the product submits.

A regression is a reply whose naive block applies but whose product patch does not;
where both apply, the files they produce are compared (they differ only where the reply
revises its first diff later).
Failure groups say what the replies that fail naively have in common. `--sweep`
justifies the near-match threshold of the repair: per threshold, the product's apply
rate, next to the similarity of hunks placed in their own file and of the same hunks'
best match in another file of their project (where no hunk belongs).

    python benchmarks/apply_rate.py [--sweep]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from swebench_tasks import diffs
from swebench_tasks.diffs import (
    NoUsableDiff,
    check_apply,
    extract_diff,
    patch_from_reply,
)

CORPUS = Path(__file__).with_name("data") / "real_replies.json.gz"
CONTEXTS = {"code": "written after reading the code", "issue": "from the issue text only"}


@dataclass
class Reply:
    instance_id: str
    repo: str
    base_commit: str
    context: str  # "code" (the model read the repository) or "issue" (problem statement only)
    model: str
    reply: str
    files: dict[str, str]  # path -> text at the base commit, for each file the reply's diffs touch
    source: dict[str, str]  # repo, path, commit of the published predictions file


def load_corpus(path: Path = CORPUS) -> list[Reply]:
    """The rows, with file texts resolved (the file stores each distinct text once)."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    return [Reply(**{**row, "files": {p: data["blobs"][sha] for p, sha in row["files"].items()}})
            for row in data["rows"]]


GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "-c", "core.autocrlf=false"]


def git(root: Path, *args: str, stdin: str | None = None) -> None:
    subprocess.run([*GIT, "-C", str(root), *args], input=stdin, capture_output=True, text=True, check=True)


def checkout(reply: Reply, root: Path) -> Path:
    """A git repository whose one commit holds the reply's files as at the base commit."""
    root.mkdir(parents=True)
    git(root, "init", "-q")
    for path, text in reply.files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(text.encode())
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", "base")
    return root


def edit(root: Path, patch: str) -> dict[str, str | None]:
    """The files a patch changes, as they are after applying it (the checkout is reset)."""
    paths = [p for p, *_ in diffs.hunks_of(patch)]
    git(root, "apply", "-", stdin=patch)
    after = {p: (root / p).read_text() if (root / p).exists() else None for p in paths}
    git(root, "reset", "-q", "--hard")
    git(root, "clean", "-qfd")
    return after


def naive(reply: str) -> str:
    found = re.search(r"```diff\n(.*?)```", reply, re.DOTALL)
    return found.group(1) if found else ""


def product(reply: Reply) -> tuple[str, str]:
    """(patch, "") or ("", why it was refused)."""
    try:
        return patch_from_reply(reply.reply, reply.files), ""
    except NoUsableDiff as exc:
        return "", exc.message


def groups(reply: Reply, naive_error: str) -> list[str]:
    """Why this reply's naive block fails (a reply may fall in several groups)."""
    found = []
    fences = re.findall(r"```diff\n(.*?)```", reply.reply, re.DOTALL)
    paths = [p for block in fences for p in {p for p, *_ in diffs.hunks_of(block)}]
    if len(paths) != len(set(paths)):
        found.append("several versions of a file")
    first = fences[0] if fences else ""
    if len(re.findall(r"^@@", first, re.MULTILINE)) > len(diffs.hunks_of(first)):
        found.append("hunk with no + or - line")  # hunks_of leaves those out
    if found:
        return found
    if not first:
        return ["no ```diff block"]
    if "corrupt patch" in naive_error or "without header" in naive_error:
        return ["hunk line counts off"]
    if "does not apply" in naive_error or "patch failed" in naive_error:
        return ["context misquoted or invented"]
    return [naive_error.splitlines()[0] if naive_error else "other"]


def measure(rows: list[Reply], work: Path) -> list[dict]:
    results = []
    for i, row in enumerate(rows):
        root = checkout(row, work / str(i))
        patch, refused = product(row)
        check = check_apply(patch, root) if patch else None
        naive_check = check_apply(naive(row.reply), root)
        kept = None  # does the product make the naive block's edit (when that applies)?
        if naive_check.ok and check and check.ok:
            wanted = edit(root, naive(row.reply))
            kept = {p: t for p, t in edit(root, patch).items() if p in wanted} == wanted
        results.append({
            "row": row, "raw": check_apply(row.reply, root).ok, "naive": naive_check.ok,
            "naive_error": naive_check.error, "product": bool(check and check.ok), "kept": kept,
            "why": refused or (check.error.splitlines()[0] if check and not check.ok else ""),
        })
    return results


def report(results: list[dict]) -> None:
    print(f"{'replies':34} {'n':>4} {'raw':>12} {'naive':>12} {'product':>12} {'regressions':>12}")
    for context, label in CONTEXTS.items():
        part = [r for r in results if r["row"].context == context]
        n = len(part)
        if not n:
            continue
        cells = [f"{sum(r[k] for r in part)} ({100 * sum(r[k] for r in part) / n:.1f}%)"
                 for k in ("raw", "naive", "product")]
        regressions = sum(r["naive"] and not r["product"] for r in part)
        print(f"{label:34} {n:>4} " + " ".join(f"{c:>12}" for c in cells) + f" {regressions:>12}")
    code = [r for r in results if r["row"].context == "code"]
    changed = [r["row"].instance_id for r in code if r["kept"] is False]
    both = sum(r["kept"] is not None for r in code)
    print(f"\nReplies whose naive block and product patch both apply: {both}; the product leaves the "
          f"naive block's files otherwise in {len(changed)}: {', '.join(changed) or '-'}")
    print("\nReplies written after reading the code that fail naively, by group:")
    print(f"{'group':34} {'n':>4} {'product applies':>16}")
    tally: Counter[str] = Counter()
    fixed: Counter[str] = Counter()
    for r in code:
        if not r["naive"]:
            for group in groups(r["row"], r["naive_error"]):
                tally[group] += 1
                fixed[group] += r["product"]
    for group, n in tally.most_common():
        print(f"{group:34} {n:>4} {fixed[group]:>16}")
    print("\nProduct failures (written after reading the code):")
    for r in code:
        if not r["product"]:
            print(f"  {r['row'].instance_id:34} naive {'ok ' if r['naive'] else 'bad'}  {r['why'][:100]}")


THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def sweep(rows: list[Reply], work: Path) -> None:
    """Per threshold: hunks placed by a near match in their own file, and wrongly in a control.

    Hunks found verbatim (whitespace collapsed) need no near match; their offset from
    the stated line bounds the search. The control cuts each such hunk's true stretch
    out of its file and asks the repair to place it again: wherever it lands is a wrong
    place (the hunk as if the model had invented it). The apply rate is measured again
    on the replies that hold a near-matched hunk (the others do not depend on it).
    """
    own: dict[str, list[tuple[list[str], list[str], int]]] = {c: [] for c in CONTEXTS}
    control: list[tuple[list[str], list[str], int]] = []
    offsets: list[int] = []
    near_rows: list[Reply] = []
    for r in rows:
        needs_near = False
        for path, body, stated in diffs.hunks_of(extract_diff(r.reply)):
            old = [ln[1:] for ln in body if ln[:1] in (" ", "-")]
            lines = r.files[path].splitlines() if path in r.files else []
            if not old or not lines or stated <= 1:
                continue
            pos = diffs._find(old, lines, stated - 1, diffs._collapsed)
            if pos is None:
                own[r.context].append((body, lines, stated - 1))
                needs_near = True
            elif r.context == "code":
                offsets.append(abs(pos - (stated - 1)))
                control.append((body, lines[:pos] + lines[pos + len(old):], stated - 1))
        if needs_near:
            near_rows.append(r)
    offsets.sort()
    print(f"\nHunks written after reading the code found verbatim: {len(offsets)}; lines off their stated "
          f"line: median {offsets[len(offsets) // 2]}, max {offsets[-1]} (the search reaches "
          f"{diffs._REACH})")
    for context, hunks in own.items():
        scores = sorted((diffs.near_match(*h) or (0.0,))[0] for h in hunks)
        print(f"Hunks {CONTEXTS[context]} not found verbatim: {len(hunks)}; best near-match similarity: "
              + ", ".join(f"{s:.2f}" for s in scores))
    print(f"\n{'threshold':>9} {'wrong places (control)':>23} " + " ".join(
        f"{'placed (' + c + ')':>14} {'replies apply':>14}" for c in CONTEXTS))
    for threshold in THRESHOLDS:
        with mock.patch.object(diffs, "NEAR_MATCH", threshold):
            results = measure(near_rows, work / f"t{threshold}")
            wrong = sum(diffs._nearest(*h) is not None for h in control)
            placed = {c: sum(diffs._nearest(*h) is not None for h in own[c]) for c in CONTEXTS}
        cells = []
        for c in CONTEXTS:
            applied = sum(r["product"] for r in results if r["row"].context == c)
            n = sum(r.context == c for r in near_rows)
            cells.append(f"{placed[c]:>11}/{len(own[c]):<2} {applied:>10}/{n:<3}")
        print(f"{threshold:>9.2f} {wrong:>14}/{len(control):<8} " + " ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="also sweep the near-match threshold")
    args = parser.parse_args()
    rows = load_corpus()
    with tempfile.TemporaryDirectory() as tmp:
        report(measure(rows, Path(tmp)))
        if args.sweep:
            sweep(rows, Path(tmp))


if __name__ == "__main__":
    main()
