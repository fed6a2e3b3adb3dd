"""patch_from_reply / extract_diff / repair_diff / check_apply against real `git apply`.

Each typical defect of a model's diff is made from a correct `git diff`; the test shows
that git refuses the defective diff and that the repaired one applies and produces
exactly the intended files. Replies of the real corpus (benchmarks/data) show the
defects models really write: several versions of a file, hunks that change nothing,
misquoted context, and a hunk that cannot be placed.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from benchmarks.apply_rate import Reply, load_corpus, naive
from swebench_tasks.diffs import (
    NoUsableDiff,
    apply_check_command,
    check_apply,
    extract_diff,
    patch_from_reply,
    repair_diff,
)
from swebench_tasks.errors import SwebenchError

GIT_ENV = ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "core.autocrlf=false"]

BASE = {
    "pkg/calc.py": (
        "import math\n\n\n"
        "def area(radius):\n"
        "    return math.pi * radius * radius\n\n\n"
        "def mean(values):\n"
        "    total = 0\n"
        "    for v in values:\n"
        "        total += v\n\n"
        "    return total / len(values)\n\n\n"
        "def clamp(x, lo, hi):\n"
        "    if x < lo:\n"
        "        return lo\n"
        "    if x > hi:\n"
        "        return lo\n"
        "    return x\n\n\n"
        "def scale(values, k):\n"
        "    return [v * k for v in values]\n"
    ),
    "pkg/util.py": "def slug(text):\n    return text.lower().replace(' ', '-')\n",
}
EDITED = {
    "pkg/calc.py": BASE["pkg/calc.py"]
    .replace("        total += v\n\n    return total / len(values)",
             "        total += v\n\n    if not values:\n        return 0.0\n    return total / len(values)")
    .replace("    if x > hi:\n        return lo\n", "    if x > hi:\n        return hi\n"),
    "pkg/util.py": "def slug(text):\n    return text.strip().lower().replace(' ', '-')\n",
    "pkg/new.py": "VALUE = 1\n",
}


def git(repo: Path, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run(["git", *GIT_ENV, "-C", str(repo), *args], input=stdin,
                          capture_output=True, text=True, check=True)
    return proc.stdout


def make_repo(root: Path, files: dict[str, str]) -> Path:
    """A git repository at `root` whose one commit holds `files`."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(text.encode())
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    return root


def intended_diff(repo: Path, edited: dict[str, str]) -> str:
    """The correct `git diff` from the repo's commit to `edited`; the checkout is left clean."""
    for path, text in edited.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_bytes(text.encode())
    git(repo, "add", "-A")
    diff = git(repo, "diff", "--cached")
    git(repo, "reset", "-q", "--hard")
    return diff


def applied_files(repo: Path, diff: str, paths: list[str]) -> dict[str, str]:
    """The files after really applying `diff` (then the checkout is reset)."""
    subprocess.run(["git", "-C", str(repo), "apply", "-"], input=diff.encode(), check=True)
    out = {p: (repo / p).read_bytes().decode() for p in paths}
    git(repo, "reset", "-q", "--hard")
    git(repo, "clean", "-qfd")
    return out


# ---- typical defects, each made from a correct diff (also used by the benchmark)

def wrong_counts(diff: str) -> str:
    """Hunk headers whose line counts are off (models miscount)."""
    return re.sub(r"^@@ -(\d+),(\d+) \+(\d+),(\d+) @@",
                  lambda m: f"@@ -{m[1]},{int(m[2]) + 2} +{m[3]},{max(1, int(m[4]) - 1)} @@",
                  diff, flags=re.MULTILINE)


def missing_prefixes(diff: str) -> str:
    """Plain `--- path` / `+++ path` without a/ b/, and no `diff --git` or index lines."""
    lines = [ln for ln in diff.splitlines(keepends=True)
             if not ln.startswith(("diff --git", "index ", "new file mode"))]
    return "".join(re.sub(r"^(---|\+\+\+) [ab]/", r"\1 ", ln) for ln in lines)


def wrong_start(diff: str) -> str:
    """Every hunk stated at line 1 (a model guessing line numbers it never saw)."""
    return re.sub(r"^@@ -(\d+),(\d+) \+(\d+),(\d+) @@",
                  lambda m: f"@@ -{min(int(m[1]), 1)},{m[2]} +{min(int(m[3]), 1)},{m[4]} @@",
                  diff, flags=re.MULTILINE)


def crlf(diff: str) -> str:
    return diff.replace("\n", "\r\n")


def lost_blank_context(diff: str) -> str:
    """Blank context lines emitted as "" instead of " " (trailing whitespace stripped).

    git itself reads "" as blank context; the defect bites when the counts are also
    off, so this defect comes with miscounted headers (a recount must count "" lines).
    """
    return wrong_counts(re.sub(r"^ $", "", diff, flags=re.MULTILINE))


def prose_between_hunks(diff: str) -> str:
    """Explanations between the hunks of one file, as chatty models write them."""
    out, seen_hunk = [], False
    for line in diff.splitlines(keepends=True):
        if line.startswith("diff --git"):
            seen_hunk = False
        if line.startswith("@@"):
            if seen_hunk:
                out.append("Then also change this part:\n")
            seen_hunk = True
        out.append(line)
    return "".join(out)


def no_final_newline(diff: str) -> str:
    return diff.rstrip("\n")


def in_prose(diff: str) -> str:
    """A whole reply: prose, the diff in a ```diff fence, more prose with a list."""
    return ("The bug is in `mean`: it divides by zero.\n\nHere is the fix:\n\n```diff\n"
            f"{diff}```\n\n- guards the empty list\n- fixes clamp\n")


DEFECTS = {
    "wrong counts": wrong_counts,
    "missing prefixes": missing_prefixes,
    "wrong start lines": wrong_start,
    "CRLF": crlf,
    "lost blank context + wrong counts": lost_blank_context,
    "prose between hunks": prose_between_hunks,
    "no final newline": no_final_newline,
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", BASE)


@pytest.fixture
def good(repo: Path) -> str:
    return intended_diff(repo, EDITED)


def test_the_intended_diff_applies_and_repair_keeps_it_applying(repo: Path, good: str) -> None:
    assert check_apply(good, repo).ok
    repaired = repair_diff(good, BASE)
    assert check_apply(repaired, repo).ok
    assert applied_files(repo, repaired, list(EDITED)) == EDITED


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_each_defect_fails_raw_and_applies_repaired(repo: Path, good: str, defect: str) -> None:
    bad = DEFECTS[defect](good)
    raw = check_apply(bad, repo)
    assert not raw.ok and raw.error
    repaired = repair_diff(bad, BASE if defect == "wrong start lines" else None)
    assert check_apply(repaired, repo).ok, repaired
    assert applied_files(repo, repaired, list(EDITED)) == EDITED


def test_wrong_start_lines_need_the_files(repo: Path, good: str) -> None:
    assert not check_apply(repair_diff(wrong_start(good)), repo).ok


def test_git_alone_accepts_a_lost_blank_context_line(repo: Path, good: str) -> None:
    assert check_apply(re.sub(r"^ $", "", good, flags=re.MULTILINE), repo).ok


def test_defects_combined(repo: Path, good: str) -> None:
    bad = crlf(lost_blank_context(missing_prefixes(wrong_start(good))))
    assert not check_apply(bad, repo).ok
    repaired = repair_diff(extract_diff(in_prose(bad)), BASE)
    assert applied_files(repo, repaired, list(EDITED)) == EDITED


def test_trailing_whitespace_lost_from_context_is_restored_from_the_file(tmp_path: Path) -> None:
    base = {"m.py": "def f():  \n    x = 1\n    return x\n"}
    repo = make_repo(tmp_path / "r", base)
    bad = ("--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,3 @@\n def f():\n-    x = 1\n+    x = 2\n"
           "     return x\n")
    assert not check_apply(bad, repo).ok
    repaired = repair_diff(bad, base)
    assert applied_files(repo, repaired, ["m.py"]) == {"m.py": "def f():  \n    x = 2\n    return x\n"}


def test_missing_trailing_context_gets_a_line_from_the_file(tmp_path: Path) -> None:
    base = {"m.py": "a = 1\nb = 2\nc = 3\nd = 4\n"}
    repo = make_repo(tmp_path / "r", base)
    bad = "--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n a = 1\n-b = 2\n+b = 20\n"
    assert not check_apply(bad, repo).ok  # git pins a hunk without trailing context to the end
    repaired = repair_diff(bad, base)
    assert applied_files(repo, repaired, ["m.py"]) == {"m.py": "a = 1\nb = 20\nc = 3\nd = 4\n"}


def test_paths_resolve_against_the_repository(tmp_path: Path) -> None:
    base = {"src/pkg/m.py": "x = 1\ny = 2\n"}
    repo = make_repo(tmp_path / "r", base)
    for written in ("/testbed/src/pkg/m.py", "pkg/m.py", "a/src/pkg/m.py"):
        bad = f"--- {written}\n+++ {written}\n@@ -1,2 +1,2 @@\n-x = 1\n+x = 3\n y = 2\n"
        repaired = repair_diff(bad, base)
        assert repaired.startswith("diff --git a/src/pkg/m.py b/src/pkg/m.py\n"), written
        assert applied_files(repo, repaired, list(base)) == {"src/pkg/m.py": "x = 3\ny = 2\n"}


def test_a_directory_named_a_is_not_taken_for_a_prefix() -> None:
    diff = "--- a/x.py\n+++ a/x.py\n@@ -1 +1 @@\n-1\n+2\n"
    assert "--- a/a/x.py\n" in repair_diff(diff, {"a/x.py": "1\n"})


def test_new_and_deleted_files_get_their_mode_lines(tmp_path: Path) -> None:
    base = {"old.py": "gone = True\n"}
    repo = make_repo(tmp_path / "r", base)
    diff = ("--- /dev/null\n+++ new.py\n@@ -0,0 +1,1 @@\n+VALUE = 1\n"
            "--- old.py\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-gone = True\n")
    repaired = repair_diff(diff)
    assert "new file mode 100644" in repaired and "deleted file mode 100644" in repaired
    assert check_apply(repaired, repo).ok


def test_crlf_files_keep_crlf_lines(tmp_path: Path) -> None:
    base = {"w.txt": "one\r\ntwo\r\nthree\r\n"}
    repo = make_repo(tmp_path / "r", base)
    diff = "--- a/w.txt\n+++ b/w.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n"
    assert not check_apply(diff, repo).ok
    repaired = repair_diff(diff, base)
    assert applied_files(repo, repaired, ["w.txt"]) == {"w.txt": "one\r\n2\r\nthree\r\n"}


def test_repair_never_touches_added_or_removed_text() -> None:
    diff = "--- a/x\n+++ b/x\n@@ -1,9 +1,9 @@\n-  old  \n+\tnew \n"
    repaired = repair_diff(diff)
    assert "\n-  old  \n+\tnew \n" in repaired and repaired.endswith("\n")


def test_a_removed_line_that_looks_like_a_header_stays_in_its_hunk() -> None:
    diff = "--- a/x\n+++ b/x\n@@ -1,2 +1,1 @@\n--- a/y\n+++ b/y\n"  # removes "-- a/y", adds "++ b/y"
    repaired = repair_diff(diff)
    assert repaired.count("diff --git") == 1 and "@@ -1,1 +1,1 @@" in repaired


# ---- extract_diff

def test_extract_fenced_diff_from_prose(good: str) -> None:
    assert extract_diff(in_prose(good)) == good


def test_extract_plain_fence_and_patch_fence(good: str) -> None:
    assert extract_diff(f"Fix:\n```\n{good}```\n") == good
    assert extract_diff(f"```patch\n{good}```") == good


def test_extract_concatenates_several_fences_and_skips_code_blocks() -> None:
    one = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n"
    two = "--- a/y.py\n+++ b/y.py\n@@ -1 +1 @@\n-c\n+d\n"
    reply = (f"Old code:\n```python\ndef f():\n    pass\n```\nFirst:\n```diff\n{one}```\n"
             f"Second:\n```diff\n{two}```\nAgain the first:\n```diff\n{one}```\n")
    assert extract_diff(reply) == one + two


def test_extract_bare_diff_stops_before_trailing_prose() -> None:
    diff = "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"
    reply = f"Sure! Apply this:\n{diff}\n- it renames b\n- nothing else\n"
    assert extract_diff(reply) == diff


def test_extract_bare_diff_keeps_a_lost_blank_context_line() -> None:
    diff = "--- a/x.py\n+++ b/x.py\n@@ -1,3 +1,3 @@\n a\n\n-b\n+c\n"
    assert extract_diff("Here:\n" + diff + "\nDone.") == diff


def test_extract_unterminated_fence_and_patch_tags() -> None:
    diff = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n"
    assert extract_diff(f"```diff\n{diff}") == diff
    assert extract_diff(f"<patch>\n{diff}</patch>") == diff


def test_extract_a_fence_glued_to_the_last_line() -> None:
    diff = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n"
    assert extract_diff(f"```diff\n{diff.rstrip()}```\n\n- a list item\n") == diff


def test_extract_unterminated_fence_stops_before_prose() -> None:
    diff = "--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"
    assert extract_diff(f"```diff\n{diff}\n- this list\n- is prose\n") == diff


def test_bare_diff_keeps_hunks_separated_by_prose(repo: Path, good: str) -> None:
    reply = f"Sure:\n{prose_between_hunks(good)}\nThat is all.\n"
    assert applied_files(repo, repair_diff(extract_diff(reply)), list(EDITED)) == EDITED


def test_extract_without_a_diff_is_empty() -> None:
    assert extract_diff("I could not find the bug.\n```python\nprint(1)\n```") == ""
    assert extract_diff("") == ""


# ---- the check itself

def test_check_apply_reports_git_error(repo: Path) -> None:
    result = check_apply("--- a/pkg/util.py\n+++ b/pkg/util.py\n@@ -1,1 +1,1 @@\n-nope\n+x\n", repo)
    assert not result.ok and "patch does not apply" in result.error
    assert check_apply("", repo) == check_apply("  \n", repo) and not check_apply("", repo).ok


def test_apply_check_command_reads_stdin_and_never_the_patch_in_argv() -> None:
    assert apply_check_command() == ["git", "apply", "--check", "-"]
    assert apply_check_command("/testbed") == ["git", "-C", "/testbed", "apply", "--check", "-"]


# ---- patch_from_reply on replies of the real corpus

@pytest.fixture(scope="module")
def corpus() -> dict[str, Reply]:
    return {r.instance_id: r for r in load_corpus() if r.context == "code"}


def checkout(tmp_path: Path, reply: Reply) -> Path:
    return make_repo(tmp_path / "repo", reply.files)


def changed_lines(diff: str) -> list[str]:
    return [ln for ln in diff.splitlines() if ln[:1] in ("+", "-") and not ln.startswith(("+++", "---"))]


def test_corpus_rows_name_their_source() -> None:
    rows = load_corpus()
    assert len(rows) >= 100 and {r.context for r in rows} == {"code", "issue"}
    for row in rows:  # an issue-only reply may name only files that do not exist
        assert (row.files or row.context == "issue") and row.source["repo"] and row.source["path"]
        assert len(row.source["commit"]) == 40
        assert len(row.base_commit) == 40


def test_several_versions_of_a_file_the_last_one_wins(tmp_path: Path, corpus) -> None:
    reply = corpus["pytest-dev__pytest-7220"]  # a diff, "Wait, ...", then a revised diff
    repo = checkout(tmp_path, reply)
    assert reply.reply.count("```diff") == 2 and check_apply(naive(reply.reply), repo).ok
    patch = patch_from_reply(reply.reply, reply.files)
    last = reply.reply[reply.reply.rindex("```diff"):]
    assert changed_lines(patch) == changed_lines(naive(last))
    assert "+        assert r is not None" not in patch  # a line only the first version had
    assert applied_files(repo, patch, ["src/_pytest/main.py"]) == \
        applied_files(repo, naive(last), ["src/_pytest/main.py"])


def test_a_revision_of_one_file_keeps_the_other_file() -> None:
    one = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n"
    two = "--- a/y.py\n+++ b/y.py\n@@ -1 +1 @@\n-c\n+d\n"
    revised = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+B\n"
    reply = f"```diff\n{one}{two}```\nWait, better:\n```diff\n{revised}```\n"
    assert extract_diff(reply) == revised + two


def test_blocks_equal_up_to_whitespace_collapse_into_one() -> None:
    block = "--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"
    reply = f"```diff\n{block}```\nAgain:\n```diff\n{block}\n\n```\n"
    assert repair_diff(extract_diff(reply)) == repair_diff(block)


def test_a_cut_off_last_version_loses_to_the_last_complete_one() -> None:
    done = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n"
    assert extract_diff(f"```diff\n{done}```\nBetter:\n```diff\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a") \
        == done


def test_hunks_that_change_nothing_are_dropped(tmp_path: Path, corpus) -> None:
    reply = corpus["django__django-13230"]  # its first hunk only quotes context
    repo = checkout(tmp_path, reply)
    assert "corrupt patch" in check_apply(naive(reply.reply), repo).error
    patch = patch_from_reply(reply.reply, reply.files)
    assert patch.count("\n@@ ") == 1 and changed_lines(patch) == changed_lines(naive(reply.reply))
    assert check_apply(patch, repo).ok


def test_context_misquoted_in_whitespace_is_taken_from_the_file(tmp_path: Path, corpus) -> None:
    reply = corpus["scikit-learn__scikit-learn-10508"]  # context lines lost their trailing spaces
    repo = checkout(tmp_path, reply)
    assert "patch does not apply" in check_apply(naive(reply.reply), repo).error
    patch = patch_from_reply(reply.reply, reply.files)
    assert check_apply(patch, repo).ok
    assert [ln.rstrip() for ln in changed_lines(patch)] == \
        [ln.rstrip() for ln in changed_lines(naive(reply.reply))]


def test_a_hunk_whose_lines_are_not_in_the_file_refuses_the_patch(corpus) -> None:
    reply = corpus["mwaskom__seaborn-2848"]  # removes lines the file does not have
    with pytest.raises(NoUsableDiff, match="seaborn/axisgrid.py"):
        patch_from_reply(reply.reply, reply.files)
    assert issubclass(NoUsableDiff, SwebenchError)


def test_one_unplaceable_hunk_refuses_the_others_too(tmp_path: Path, corpus) -> None:
    reply = corpus["django__django-13447"]  # four hunks; the last removes this line
    removed = "-        app_dict = self._build_app_dict(request, app_label)\n"
    assert check_apply(patch_from_reply(reply.reply, reply.files), checkout(tmp_path, reply)).ok
    broken = reply.reply.replace(removed, "-        app_dict = build_everything_else()\n")
    assert broken != reply.reply
    with pytest.raises(NoUsableDiff, match="django/contrib/admin/sites.py"):
        patch_from_reply(broken, reply.files)


def test_near_match_rebuilds_the_hunk_from_the_file(tmp_path: Path) -> None:
    base = {"m.py": "import os\n\n\ndef load(path):\n    # read the whole config file\n"
                    "    with open(path) as fh:\n        return fh.read()\n\n\nVALUE = 1\n"}
    repo = make_repo(tmp_path / "r", base)
    reply = ("```diff\n--- a/m.py\n+++ b/m.py\n@@ -4,3 +4,3 @@\n def load(path):\n"
             "     # read the config file\n     with open(path) as fh:\n-        return fh.read()\n"
             "+        return fh.read().strip()\n```\n")
    patch = patch_from_reply(reply, base)
    assert "     # read the whole config file\n" in patch  # the file's line, not the misquote
    assert applied_files(repo, patch, ["m.py"])["m.py"] == base["m.py"].replace(
        "return fh.read()", "return fh.read().strip()")


def test_a_removed_line_unlike_the_file_is_refused() -> None:
    base = {"m.py": "def f():\n    x = compute_total(items)\n    return x\n"}
    reply = "--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,3 @@\n def f():\n-    y = 2\n+    x = 3\n     return x\n"
    with pytest.raises(NoUsableDiff):
        patch_from_reply(reply, base)


def test_no_diff_in_the_reply_is_the_products_error() -> None:
    for reply in ("", "I could not find the bug.", "```diff\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n a\n```"):
        with pytest.raises(SwebenchError):
            patch_from_reply(reply)


def test_without_files_the_patch_is_repaired_but_not_placed() -> None:
    reply = "Fix:\n```diff\n--- a/x.py\n+++ b/x.py\n@@ -1,5 +1,9 @@\n-a\n+b\n```\n"
    assert patch_from_reply(reply) == \
        "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1,1 +1,1 @@\n-a\n+b\n"


def test_lines_added_without_context_go_by_the_stated_line(tmp_path: Path) -> None:
    base = {"pkg/__init__.py": "", "pkg/m.py": "a = 1\nb = 2\nc = 3\n"}
    repo = make_repo(tmp_path / "r", base)
    reply = ("--- a/pkg/__init__.py\n+++ b/pkg/__init__.py\n@@ -0,0 +1 @@\n+from .m import a\n"
             "--- a/pkg/m.py\n+++ b/pkg/m.py\n@@ -2,0 +3 @@\n+bb = 22\n")
    patch = patch_from_reply(reply, base)
    assert applied_files(repo, patch, ["pkg/__init__.py", "pkg/m.py"]) == \
        {"pkg/__init__.py": "from .m import a\n", "pkg/m.py": "a = 1\nb = 2\nbb = 22\nc = 3\n"}
