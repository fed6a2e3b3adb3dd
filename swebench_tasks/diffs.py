"""Turn a model's reply into a unified diff that `git apply` accepts.

Models get the substance of a patch right far more often than its bookkeeping: hunk
counts, path prefixes, start lines, line endings, context quoted from memory. The
harness applies with plain `git apply` first and falls back to `patch --fuzz`, which
can apply a patch only in part; so every slip costs an instance or, worse, half an
edit. `patch_from_reply` is the one entry point: `extract_diff` keeps the last
version of each file the reply writes, `repair_diff` fixes the bookkeeping and,
with the file texts, places every hunk where its lines really are (or refuses the
patch), and `check_apply` runs the same check here and inside a container.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path

from swebench_tasks.errors import NoUsableDiff

_HUNK_RE = re.compile(r"^@@\s*(?:-(\d+)(?:,(\d+))?)?\s*(?:\+(\d+)(?:,(\d+))?)?\s*@@(.*)$")
_FENCE_RE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+.-]*)\s*$")
_DIFF_LANGS = {"diff", "patch", "udiff", "git"}
# git extended header lines that carry meaning (index lines are dropped: models invent them)
_EXTENDED = (
    "old mode ",
    "new mode ",
    "deleted file mode ",
    "new file mode ",
    "similarity index ",
    "dissimilarity index ",
    "rename from ",
    "rename to ",
    "copy from ",
    "copy to ",
)
_CONTAINER_ROOT = "/testbed/"  # where SWE-bench images keep the repository


# ---------------------------------------------------------------------------- extract


def patch_from_reply(reply: str, files: Mapping[str, str] | None = None) -> str:
    """The patch the product submits for a model reply; raises NoUsableDiff when there is none.

    `files` (path -> text at the base commit) lets repair place each hunk by its lines;
    a hunk that cannot be placed refuses the whole patch rather than dropping out of it.
    """
    diff = extract_diff(reply)
    if not diff:
        raise NoUsableDiff("the reply holds no usable diff (no unified diff in it)")
    patch = repair_diff(diff, files)
    if not patch:
        raise NoUsableDiff("the reply holds no usable diff (every hunk changes nothing)")
    return patch


def extract_diff(reply: str) -> str:
    """The unified diff in a model reply ("" when there is none), ending with a newline.

    Fenced blocks that hold a diff win; else `<patch>` tags (the SWE-bench prompt's
    format); else bare diffs cut out of the surrounding prose. A reply often writes a
    file more than once ("wait, let me fix that"): for each file the last version
    wins, the last complete one when a later block was cut off. A block's sections
    for one file stay together; files revised in no later block keep their version.
    """
    lines = _lines_of(reply)
    blocks = [b for b in _fenced_blocks(lines) if _looks_like_diff(b[0])]
    if not blocks:
        blocks = [(b, True) for b in _tagged_blocks(reply) if _looks_like_diff(b)]
    if not blocks:
        blocks = [(b, True) for b in _bare_diffs(lines)]
    versions: dict[str, list[tuple[bool, list[str]]]] = {}  # file -> (complete, its sections)
    for block, complete in blocks:
        sections: dict[str, list[str]] = {}
        for key, section in _file_sections(_from_first_header(block)):
            sections.setdefault(key, []).extend(section)
        for key, section in sections.items():
            versions.setdefault(key, []).append((complete, section))
    chosen = []
    for found in versions.values():
        finished = [section for done, section in found if done]
        chosen.append((finished or [section for _, section in found])[-1])
    # trailing blank lines stay: they may be blank context lines
    return "".join("\n".join(section) + "\n" for section in chosen if "\n".join(section).strip())


def _file_sections(lines: list[str]) -> list[tuple[str, list[str]]]:
    """A diff cut at its file headers: (the file's normalised path, its lines)."""
    starts = [
        i
        for i in range(len(lines))
        if _file_header_at(lines, i) and not (i > 0 and lines[i - 1].startswith("diff --git "))
    ]
    out = []
    for start, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        header = lines[start]
        if header.startswith("diff --git "):
            path = _git_header_patch(header[len("diff --git ") :]).old_path
        else:
            path = _raw_path(header[4:])
            if path is None:  # a new file: named by its +++ line
                path = _raw_path(lines[start + 1][4:])
        out.append((_path_key(path or ""), lines[start:end]))
    return out


def _path_key(path: str) -> str:
    path = path.removeprefix(_CONTAINER_ROOT)
    path = path[2:] if path[:2] in ("a/", "b/") else path
    return path.removeprefix("./").lstrip("/")


def _fenced_blocks(lines: list[str]) -> list[tuple[list[str], bool]]:
    """Contents of ``` / ~~~ fenced blocks, each with whether its fence was closed.

    A diff fence counts even unterminated (a reply cut off by its token limit).
    """
    blocks: list[tuple[list[str], bool]] = []
    i = 0
    while i < len(lines):
        opening = _FENCE_RE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence, lang = opening.group(1), opening.group(2), opening.group(3).lower()
        body: list[str] = []
        closed = False
        i += 1
        while i < len(lines) and not closed:
            line = lines[i]
            closing = _FENCE_RE.match(line)
            closed = bool(closing and closing.group(2).startswith(fence) and not closing.group(3))
            if not closed and line.endswith(fence) and line[: -len(fence)] not in ("", " ", "+", "-"):
                line, closed = line[: -len(fence)], True  # "last line```": a fence glued on
                body.append(line)
            elif not closed:
                body.append(line)
            i += 1
        if indent and all(not ln or ln.startswith(indent) for ln in body):
            body = [ln[len(indent) :] for ln in body]
        if lang in _DIFF_LANGS or not lang or lang == "text":
            # an unterminated fence (a truncated reply) may run on into prose: cut as bare
            blocks.extend([(body, True)] if closed else [(b, False) for b in _bare_diffs(body)])
    return blocks


def _tagged_blocks(reply: str) -> list[list[str]]:
    found = re.findall(r"<(patch|diff)>\n?(.*?)</\1>", reply, re.DOTALL)
    return [_lines_of(body) for _, body in found]


def _lines_of(text: str) -> list[str]:
    lines = text.replace("\r\n", "\n").split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def _looks_like_diff(lines: list[str]) -> bool:
    has_file = any(_file_header_at(lines, i) for i in range(len(lines)))
    return has_file and any(_HUNK_RE.match(ln) for ln in lines)


def _file_header_at(lines: list[str], i: int) -> bool:
    """A file patch starts here: `diff --git`, or a `---` line followed by `+++`."""
    line = lines[i]
    if line.startswith("diff --git "):
        return True
    return line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")


def _from_first_header(lines: list[str]) -> list[str]:
    for i in range(len(lines)):
        if _file_header_at(lines, i):
            return lines[i:]
    return []


def _bare_diffs(lines: list[str]) -> list[list[str]]:
    """Diff segments embedded in prose, each from a file header to its last diff line."""
    segments: list[list[str]] = []
    i = 0
    while i < len(lines):
        if _file_header_at(lines, i):
            end = _segment_end(lines, i)
            segments.append(lines[i:end])
            i = end
        else:
            i += 1
    return segments


def _segment_end(lines: list[str], start: int) -> int:
    """Index just past a bare diff segment.

    Inside a hunk, a blank line may be a context line that lost its space, so it
    belongs to the diff when diff lines follow it, unless the hunk's stated counts
    are already met: then it separates the diff from prose (a "- item" list would
    otherwise read as removed lines).
    """
    i = start
    old_left = new_left = 0
    while i < len(lines):
        line = lines[i]
        hunk = _HUNK_RE.match(line)
        if (
            _file_header_at(lines, i)
            or line.startswith("+++ ")
            or line.startswith(_EXTENDED)
            or line.startswith("index ")
        ):
            i += 1
        elif hunk:
            old_left = int(hunk.group(2) or 1) if hunk.group(1) else 0
            new_left = int(hunk.group(4) or 1) if hunk.group(3) else 0
            i += 1
        elif line[:1] in (" ", "+", "-", "\\"):
            old_left -= line[:1] in (" ", "-")
            new_left -= line[:1] in (" ", "+")
            i += 1
        elif line == "":
            after = i
            while after < len(lines) and lines[after] == "":
                after += 1
            counts_met = old_left <= 0 and new_left <= 0
            nxt = lines[after] if after < len(lines) else ""
            continues = (
                _file_header_at(lines, after)
                or bool(_HUNK_RE.match(nxt))
                or (not counts_met and nxt[:1] in (" ", "+", "-", "\\"))
            )
            if not continues:
                break
            old_left -= after - i
            new_left -= after - i
            i = after
        elif _hunk_follows(lines, i):
            i += 1  # prose between two hunks: repair_diff drops it, keeping both hunks
        else:
            break
    return i


def _hunk_follows(lines: list[str], i: int, within: int = 4) -> bool:
    """Does a hunk header come within a few prose (or blank) lines after line i?"""
    for line in lines[i + 1 : i + 1 + within]:
        if _HUNK_RE.match(line):
            return True
        if line[:1] in (" ", "+", "-", "\\") or line.startswith("diff --git"):
            return False
    return False


# ---------------------------------------------------------------------------- repair


@dataclass
class _Hunk:
    old_start: int
    stated_old: int  # the header's counts: only a hint for trailing blank lines
    section: str  # text after the closing @@ (a function name), kept as written
    body: list[str] = field(default_factory=list)
    loose_blanks: int = 0  # trailing "" lines: blank context or just padding

    def old_side(self, blanks: int) -> list[str]:
        return [ln[1:] for ln in self.with_blanks(blanks) if ln[:1] in (" ", "-")]

    def with_blanks(self, blanks: int) -> list[str]:
        return self.body + [" "] * blanks


@dataclass
class _FilePatch:
    old_path: str | None  # None: /dev/null (a new file)
    new_path: str | None  # None: /dev/null (a deleted file)
    extended: list[str] = field(default_factory=list)
    hunks: list[_Hunk] = field(default_factory=list)
    awaiting_paths: bool = False  # after `diff --git`, before its ---/+++ lines


def touched_paths(diff: str) -> list[str]:
    """The existing files a diff changes (their text lets repair_diff relocate hunks)."""
    return [p.old_path.removeprefix("a/") for p in _parse(diff) if p.old_path]


def hunks_of(diff: str) -> list[tuple[str, list[str], int]]:
    """(path, body lines, stated old start line) of each hunk that changes something."""
    return [(_path_key(p.old_path or p.new_path or ""), h.body, h.old_start) for p in _parse(diff) for h in p.hunks]


def repair_diff(diff: str, files: Mapping[str, str] | None = None) -> str:
    """Fix a model diff's bookkeeping so that `git apply` takes it.

    Fixes CRLF, lost blank context lines, missing `diff --git` headers and a/ b/
    prefixes, wrong hunk counts (recounted from the body) and a missing final
    newline. With `files` (path -> original text) it also resolves paths against the
    repository and places each hunk where its context and removed lines really are,
    rebuilt from the file's own lines; a hunk that cannot be placed raises
    NoUsableDiff (a patch missing a hunk must never reach the harness). Hunks that
    change nothing are dropped (git calls them corrupt). The + and - lines keep
    their meaning; text before the first file header and between a hunk and the
    next header is dropped, as git itself ignores it.
    """
    patches = _parse(diff.replace("\r\n", "\n"))
    out: list[str] = []
    for patch in patches:
        _resolve_paths(patch, files)
        text = files.get(patch.old_path) if files is not None and patch.old_path else None
        eol = "\r\n" if text is not None and "\r\n" in text else "\n"
        out.extend(_render(patch, text, eol))
    return "".join(out)


def _parse(text: str) -> list[_FilePatch]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    patches: list[_FilePatch] = []
    current: _FilePatch | None = None
    hunk: _Hunk | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("diff --git "):
            current, hunk = _git_header_patch(line[len("diff --git ") :]), None
            patches.append(current)
        elif _file_header_at(lines, i) and (hunk is None or not _body_continues(hunk, lines, i)):
            old, new = _raw_path(line[4:]), _raw_path(lines[i + 1][4:])
            if current is None or not current.awaiting_paths:
                current = _FilePatch(old, new)
                patches.append(current)
            current.old_path, current.new_path, current.awaiting_paths = old, new, False
            hunk = None
            i += 1
        elif current is not None and hunk is None and line.startswith(_EXTENDED):
            current.extended.append(line)
        elif current is not None and (match := _HUNK_RE.match(line)):
            stated_old = int(match.group(2) or 1) if match.group(1) else 0
            hunk = _Hunk(int(match.group(1) or 1), stated_old, match.group(5))
            current.hunks.append(hunk)
            current.awaiting_paths = False
        elif hunk is not None and line == "":
            hunk.loose_blanks += 1
        elif hunk is not None and line[:1] in (" ", "+", "-", "\\"):
            hunk.body.extend([" "] * hunk.loose_blanks)  # blank context inside a hunk
            hunk.loose_blanks = 0
            hunk.body.append(line)
        else:
            hunk = None  # prose or an index line: ignored until the next header
        i += 1
    for patch in patches:  # a hunk that changes nothing: git calls the whole patch corrupt
        patch.hunks = [h for h in patch.hunks if any(ln[:1] in ("+", "-") for ln in h.body)]
    return [p for p in patches if p.hunks or p.extended]


def _body_continues(hunk: _Hunk, lines: list[str], i: int) -> bool:
    """Is the `---`/`+++` pair at i a removed `-- x` and an added `++ y` line?

    Not when a hunk header follows the pair (then it is a file header, whatever the
    counts say); else while the hunk's stated old count is not yet met.
    """
    if i + 2 < len(lines) and _HUNK_RE.match(lines[i + 2]):
        return False
    removed = sum(ln[:1] in (" ", "-") for ln in hunk.body) + hunk.loose_blanks
    return removed < hunk.stated_old


def _git_header_patch(rest: str) -> _FilePatch:
    """A file patch from `diff --git a/x b/y`; its ---/+++ lines, when they follow, win."""
    if rest.startswith("a/") and " b/" in rest:
        old, new = rest.split(" b/", 1)
        new = "b/" + new
    else:
        old, _, new = rest.partition(" ")
    return _FilePatch(_raw_path(old), _raw_path(new or old), awaiting_paths=True)


def _raw_path(field_text: str) -> str | None:
    path = field_text.split("\t", 1)[0].strip()
    if len(path) >= 2 and path[0] == path[-1] == '"':
        path = path[1:-1]
    return None if path == "/dev/null" else path


def _resolve_paths(patch: _FilePatch, files: Mapping[str, str] | None) -> None:
    """Strip a/ b/ where they are prefixes (not directories); with `files`, prefer real paths.

    Only the old side is matched against the repository (exactly, or by a unique
    path suffix); a new or renamed file keeps its own name.
    """
    old, new = patch.old_path, patch.new_path
    both = all(p is None or p[:2] in ("a/", "b/") for p in (old, new))

    def clean(path: str | None, other: str | None) -> str | None:
        if path is None:
            return None
        path = path[len(_CONTAINER_ROOT) :] if path.startswith(_CONTAINER_ROOT) else path
        if path[:2] in ("a/", "b/") and (both or path[2:] == other):
            path = path[2:]
        return path.removeprefix("./").lstrip("/")

    old_clean, new_clean = clean(old, new), clean(new, old)
    if files is not None and old is not None and old_clean not in files:
        unprefixed = old[2:] if old[:2] in ("a/", "b/") else old
        candidates = [c for c in (unprefixed, old) if c in files]
        tail = "/" + old_clean if old_clean else ""
        suffixed = [p for p in files if tail.endswith("/" + p) or ("/" + p).endswith(tail)]
        found = candidates[0] if candidates else suffixed[0] if len(suffixed) == 1 else None
        if found:
            new_clean = found if new_clean == old_clean else new_clean
            old_clean = found
    patch.old_path, patch.new_path = old_clean, new_clean


def _render(patch: _FilePatch, text: str | None, eol: str) -> list[str]:
    old, new = patch.old_path, patch.new_path
    a_side, b_side = old or new, new or old
    out = [f"diff --git a/{a_side} b/{b_side}\n"]
    extended = list(patch.extended)
    if old is None and not any(e.startswith("new file mode") for e in extended):
        extended.insert(0, "new file mode 100644")
    if new is None and not any(e.startswith("deleted file mode") for e in extended):
        extended.insert(0, "deleted file mode 100644")
    out += [e + "\n" for e in extended]
    if not patch.hunks:
        return out
    out.append(f"--- a/{old}\n" if old else "--- /dev/null\n")
    out.append(f"+++ b/{new}\n" if new else "+++ /dev/null\n")
    file_lines = _split_lines(text) if text is not None else None
    placed = [(*_place(h, file_lines, old is None, old or ""), h.section) for h in patch.hunks]
    if file_lines is not None and old is not None:
        placed = _in_order(placed, old)
    delta = 0
    for old_start, body, section in placed:
        old_n = sum(ln[:1] in (" ", "-") for ln in body)
        new_n = sum(ln[:1] in (" ", "+") for ln in body)
        new_start = old_start + delta + (old_n == 0) - (new_n == 0)
        if old is None:
            old_start, new_start = 0, 1
        out.append(f"@@ -{old_start},{old_n} +{new_start},{new_n} @@{section}\n")
        out += [ln + (eol if ln[:1] != "\\" else "\n") for ln in body]
        delta += new_n - old_n
    return out


def _split_lines(text: str) -> list[str]:
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


# A hunk whose lines are not in the file as written is placed on the stretch most like
# them near its stated line, if that similarity (difflib ratio over whitespace-collapsed
# text) reaches NEAR_MATCH. Measured on the corpus (`benchmarks/apply_rate.py --sweep`):
# replies written after reading the code state the right line (off by at most 1 for all
# 278 hunks found verbatim), so the search stays within _REACH lines of it; a hunk stated
# at line 0 or 1 gives no position and gets no near match. Those replies need no near
# match at all (278 of 279 hunks verbatim), so the bar is set by the control: each
# verbatim hunk with its true stretch cut out, as if invented, lands somewhere in 43 of
# 278 cases at 0.5, 14 at 0.7, 9 at 0.8, 5 at 0.9. A wrong place costs a wrong edit, a
# refusal only the retry with the model: 0.9 still takes a changed word in a hunk.
NEAR_MATCH = 0.9
_REACH = 10
# Within a near match a context line stands for the file line at least this much like it;
# a removed line, what the edit replaces, must be as like its file line as NEAR_MATCH.
_LINE_PAIR = 0.5


def _place(hunk: _Hunk, file_lines: list[str] | None, new_file: bool, path: str) -> tuple[int, list[str]]:
    """The hunk's start line and body, placed against the file when it is known.

    `git apply` searches for a hunk at any offset, except that a hunk stated at line
    0 or 1 must match at the start and one without trailing context at the end; so
    a guessed "@@ -1,n" fails unless the hunk is moved to where its lines are.
    Trailing blank lines are ambiguous (lost blank context, or padding after the
    diff): the header's count decides, or else whichever variant is found in the
    file. Lines are matched exactly, then ignoring trailing whitespace, then with all
    whitespace collapsed, then as the most similar stretch of the file; the context
    and removed lines are then the file's own, so `git apply` finds them.
    """
    counted = sum(ln[:1] in (" ", "-") for ln in hunk.body)
    hinted = min(hunk.loose_blanks, max(0, hunk.stated_old - counted))
    if file_lines is None or new_file:
        return hunk.old_start, hunk.with_blanks(hinted)
    tries = [hinted] + [b for b in range(hunk.loose_blanks, -1, -1) if b != hinted]
    for key in (_same, _rstripped, _collapsed):
        for blanks in tries:
            old_side = hunk.old_side(blanks)
            if not old_side:
                return _with_context(hunk, file_lines)
            pos = _find(old_side, file_lines, hunk.old_start - 1, key)
            if pos is not None:
                body = _adopt_file_text(hunk.with_blanks(blanks), file_lines, pos)
                return _with_trailing_context(pos, body, file_lines)
    near = _nearest(hunk.body, file_lines, hunk.old_start - 1) if hunk.old_start > 1 else None
    if near is None:
        raise NoUsableDiff(f"a hunk for {path} matches nothing in the file: its context or removed lines are not there")
    return _with_trailing_context(*near, file_lines)


def _with_context(hunk: _Hunk, file_lines: list[str]) -> tuple[int, list[str]]:
    """A pure addition without context, given the file's lines around its stated line.

    git would pin a hunk without trailing context to the end of the file; "-N,0"
    means after line N, and a stated count other than 0 means before line N.
    """
    at = min(len(file_lines), max(0, hunk.old_start - (hunk.stated_old != 0)))
    start = max(0, at - 3)
    before = [" " + ln for ln in file_lines[start:at]]
    after = [" " + ln for ln in file_lines[at : at + 3]]
    return (start + 1 if before or after else 0), before + hunk.body + after


def _same(line: str) -> str:
    return line


def _rstripped(line: str) -> str:
    return line.rstrip()


def _collapsed(line: str) -> str:
    return " ".join(line.split())


def _with_trailing_context(pos: int, body: list[str], file_lines: list[str]) -> tuple[int, list[str]]:
    after = pos + sum(ln[:1] in (" ", "-") for ln in body)
    if body[-1][:1] in ("+", "-") and after < len(file_lines):
        body = [*body, " " + file_lines[after]]  # else git pins the hunk to the file's end
    return pos + 1, body


def _find(needle: list[str], lines: list[str], near: int, key) -> int | None:
    """Where `needle` occurs in `lines` (compared through `key`), nearest to index `near`."""
    wanted = [key(s) for s in needle]
    first = wanted[0]
    hits = [
        i
        for i in range(len(lines) - len(wanted) + 1)
        if key(lines[i]) == first and [key(s) for s in lines[i : i + len(wanted)]] == wanted
    ]
    return min(hits, key=lambda i: abs(i - near)) if hits else None


def near_match(body: list[str], file_lines: list[str], near: int) -> tuple[float, int, int] | None:
    """(similarity, start, end) of the file stretch most like the hunk's old side.

    Stretches start within _REACH lines of index `near` (the hunk's stated line) and
    are a few lines longer or shorter than the old side (a line misquoted away or
    invented). Public for the benchmark's threshold sweep.
    """
    old = [_collapsed(ln[1:]) for ln in body if ln[:1] in (" ", "-")]
    norm = [_collapsed(ln) for ln in file_lines]
    best: tuple[float, int, int] | None = None
    matcher = SequenceMatcher(None, autojunk=False)
    matcher.set_seq2("\n".join(old))
    for lo in range(max(0, near - _REACH), min(len(norm), near + _REACH + 1)):
        for size in range(max(1, len(old) - 3), len(old) + 4):
            hi = min(len(norm), lo + size)
            matcher.set_seq1("\n".join(norm[lo:hi]))
            if best is not None and matcher.real_quick_ratio() <= best[0]:
                continue
            score = matcher.ratio()
            if best is None or score > best[0]:
                best = (score, lo, hi)
    return best


def _nearest(body: list[str], file_lines: list[str], near: int) -> tuple[int, list[str]] | None:
    """The hunk rebuilt on the most similar stretch of the file, if similar enough.

    Lines are aligned one to one where they correspond; a context line the file
    lacks is dropped and a file line the hunk skipped becomes context. A removed
    line the file lacks cannot be removed: the hunk is not placed.
    """
    found = near_match(body, file_lines, near)
    if found is None or found[0] < NEAR_MATCH:
        return None
    _, lo, hi = found
    old_lines = [ln for ln in body if ln[:1] in (" ", "-")]
    matcher = SequenceMatcher(
        None, [_collapsed(ln[1:]) for ln in old_lines], [_collapsed(ln) for ln in file_lines[lo:hi]], autojunk=False
    )
    mapped: list[list[str]] = [[] for _ in old_lines]  # what each old-side line becomes
    leading: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        file_part = file_lines[lo + j1 : lo + j2]
        if op == "insert":
            (mapped[i1 - 1] if i1 else leading).extend(" " + f for f in file_part)
            continue
        j = 0
        for k in range(i1, i2):  # each hunk line pairs with the most like file line after the last
            scores = [(_line_ratio(old_lines[k][1:], f), x) for x, f in enumerate(file_part[j:], j)]
            score, x = max(scores, key=lambda t: (t[0], -t[1])) if scores else (0.0, j)
            if op == "equal" or score >= (NEAR_MATCH if old_lines[k][0] == "-" else _LINE_PAIR):
                mapped[k].extend(" " + f for f in file_part[j:x])
                mapped[k].append(old_lines[k][0] + file_part[x])
                j = x + 1
            elif old_lines[k][0] == "-":
                return None
        if j < len(file_part):
            mapped[i2 - 1].extend(" " + f for f in file_part[j:])
    rebuilt, k = list(leading), 0
    for line in body:
        if line[:1] in (" ", "-"):
            rebuilt.extend(mapped[k])
            k += 1
        else:
            rebuilt.append(line)
    # leading and trailing context kept to three lines, as a diff tool writes it
    first = next(i for i, ln in enumerate(rebuilt) if ln[:1] != " ")
    last = max(i for i, ln in enumerate(rebuilt) if ln[:1] != " ")
    start = max(0, first - 3)
    return lo + start, rebuilt[start : last + 4]


def _line_ratio(a: str, b: str) -> float:
    return SequenceMatcher(None, _collapsed(a), _collapsed(b), autojunk=False).ratio()


def _in_order(placed: list[tuple[int, list[str], str]], path: str) -> list[tuple[int, list[str], str]]:
    """Hunks sorted by place; exact repeats dropped; overlapping ones refuse the patch."""
    out: list[tuple[int, list[str], str]] = []
    for start, body, section in sorted(placed, key=lambda p: p[0]):
        if out and (start, body) == out[-1][:2]:
            continue
        if out:
            prev_start, prev_body, _ = out[-1]
            if start < prev_start + sum(ln[:1] in (" ", "-") for ln in prev_body):
                raise NoUsableDiff(f"two hunks for {path} change the same lines (two versions of one edit?)")
        out.append((start, body, section))
    return out


def _adopt_file_text(body: list[str], file_lines: list[str], pos: int) -> list[str]:
    out: list[str] = []
    i = pos
    for line in body:
        if line[:1] in (" ", "-"):
            out.append(line[0] + file_lines[i])
            i += 1
        else:
            out.append(line)
    return out


# ---------------------------------------------------------------------------- apply check


@dataclass
class ApplyCheck:
    ok: bool
    error: str  # git's message when it refuses; "" when it applies


def apply_check_command(repo_dir: str | None = None) -> list[str]:
    """The one `git apply --check` used here and in the instance container.

    Plain `git apply` is the harness's first attempt, so a patch that passes this
    check applies there without its fallbacks. The patch comes on stdin (`-`).
    For the container: `docker exec -i <id> ` + apply_check_command("/testbed").
    """
    prefix = ["git", "-C", repo_dir] if repo_dir else ["git"]
    return [*prefix, "apply", "--check", "-"]


def check_apply(diff: str, repo_dir: Path) -> ApplyCheck:
    """Would `diff` apply to the checkout at `repo_dir`? The diff goes through stdin."""
    if not diff.strip():
        return ApplyCheck(False, "empty patch")
    proc = subprocess.run(
        apply_check_command(str(repo_dir)), input=diff.encode("utf-8"), capture_output=True, check=False
    )
    error = proc.stderr.decode("utf-8", "replace").strip()
    return ApplyCheck(proc.returncode == 0, "" if proc.returncode == 0 else error)
