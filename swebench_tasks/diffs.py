"""Turn a model's reply into a unified diff that `git apply` accepts.

Models get the substance of a patch right far more often than its bookkeeping: hunk
counts, path prefixes, start lines, line endings. The harness applies with plain
`git apply` first, so every such slip costs an instance. `extract_diff` finds the
diff in the prose, `repair_diff` fixes the bookkeeping without touching what the
+/- lines say, and `check_apply` runs the same check here and inside a container.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

_HUNK_RE = re.compile(
    r"^@@\s*(?:-(\d+)(?:,(\d+))?)?\s*(?:\+(\d+)(?:,(\d+))?)?\s*@@(.*)$"
)
_FENCE_RE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+.-]*)\s*$")
_DIFF_LANGS = {"diff", "patch", "udiff", "git"}
# git extended header lines that carry meaning (index lines are dropped: models invent them)
_EXTENDED = (
    "old mode ", "new mode ", "deleted file mode ", "new file mode ", "similarity index ",
    "dissimilarity index ", "rename from ", "rename to ", "copy from ", "copy to ",
)
_CONTAINER_ROOT = "/testbed/"  # where SWE-bench images keep the repository


# ---------------------------------------------------------------------------- extract


def extract_diff(reply: str) -> str:
    """The unified diff in a model reply ("" when there is none), ending with a newline.

    Fenced blocks that hold a diff win (all of them, concatenated, exact repeats
    dropped); else `<patch>` tags (the SWE-bench prompt's format); else a bare diff
    cut out of the surrounding prose.
    """
    lines = _lines_of(reply)
    blocks = [b for b in _fenced_blocks(lines) if _looks_like_diff(b)]
    if not blocks:
        blocks = [b for b in _tagged_blocks(reply) if _looks_like_diff(b)]
    if not blocks:
        blocks = _bare_diffs(lines)
    unique: list[str] = []
    for block in blocks:  # trailing blank lines stay: they may be blank context lines
        text = "\n".join(_from_first_header(block))
        if text.strip() and text not in unique:
            unique.append(text)
    return "".join(text + "\n" for text in unique)


def _fenced_blocks(lines: list[str]) -> list[list[str]]:
    """Contents of ``` / ~~~ fenced blocks; a diff fence counts even unterminated."""
    blocks: list[list[str]] = []
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
            if not closed and line.endswith(fence) and line[:-len(fence)] not in ("", " ", "+", "-"):
                line, closed = line[:-len(fence)], True  # "last line```": a fence glued on
                body.append(line)
            elif not closed:
                body.append(line)
            i += 1
        if indent and all(not ln or ln.startswith(indent) for ln in body):
            body = [ln[len(indent):] for ln in body]
        if lang in _DIFF_LANGS or not lang or lang == "text":
            # an unterminated fence (a truncated reply) may run on into prose: cut as bare
            blocks.extend([body] if closed else _bare_diffs(body))
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
        if _file_header_at(lines, i) or line.startswith("+++ ") or line.startswith(_EXTENDED) \
                or line.startswith("index "):
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
            continues = _file_header_at(lines, after) or bool(_HUNK_RE.match(nxt)) or (
                not counts_met and nxt[:1] in (" ", "+", "-", "\\"))
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
    for line in lines[i + 1:i + 1 + within]:
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


def repair_diff(diff: str, files: Mapping[str, str] | None = None) -> str:
    """Fix a model diff's bookkeeping so that `git apply` takes it.

    Fixes CRLF, lost blank context lines, missing `diff --git` headers and a/ b/
    prefixes, wrong hunk counts (recounted from the body) and a missing final
    newline. With `files` (path -> original text) it also resolves paths against the
    repository and moves each hunk to where its context and removed lines really
    are. The + and - lines keep their meaning; text before the first file header
    and between a hunk and the next header is dropped, as git itself ignores it.
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
            current, hunk = _git_header_patch(line[len("diff --git "):]), None
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
        path = path[len(_CONTAINER_ROOT):] if path.startswith(_CONTAINER_ROOT) else path
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
    placed = [(*_place(h, file_lines, old is None), h.section) for h in patch.hunks]
    if file_lines is not None:
        placed.sort(key=lambda p: p[0])
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


def _place(hunk: _Hunk, file_lines: list[str] | None, new_file: bool) -> tuple[int, list[str]]:
    """The hunk's start line and body, relocated against the file when it is known.

    `git apply` searches for a hunk at any offset, except that a hunk stated at line
    0 or 1 must match at the start and one without trailing context at the end; so
    a guessed "@@ -1,n" fails unless the hunk is moved to where its lines are.
    Trailing blank lines are ambiguous (lost blank context, or padding after the
    diff): the header's count decides, or else whichever variant is found in the
    file. A hunk found only when trailing whitespace is ignored takes the file's
    own text for its context and removed lines (the same lines, so the same meaning).
    """
    counted = sum(ln[:1] in (" ", "-") for ln in hunk.body)
    hinted = min(hunk.loose_blanks, max(0, hunk.stated_old - counted))
    if file_lines is None or new_file:
        return hunk.old_start, hunk.with_blanks(hinted)
    tries = [hinted] + [b for b in range(hunk.loose_blanks, -1, -1) if b != hinted]
    for exact in (True, False):
        for blanks in tries:
            old_side = hunk.old_side(blanks)
            if not old_side:
                return hunk.old_start, hunk.with_blanks(blanks)
            pos = _find(old_side, file_lines, hunk.old_start - 1, exact)
            if pos is None:
                continue
            body = _adopt_file_text(hunk.with_blanks(blanks), file_lines, pos)
            after = pos + len(old_side)
            if body[-1][:1] in ("+", "-") and after < len(file_lines):
                body.append(" " + file_lines[after])  # else git pins the hunk to the file's end
            return pos + 1, body
    return hunk.old_start, hunk.with_blanks(hinted)


def _find(needle: list[str], lines: list[str], near: int, exact: bool) -> int | None:
    """Where `needle` occurs in `lines`, nearest to line index `near`."""
    key = (lambda s: s) if exact else (lambda s: s.rstrip())
    wanted = [key(s) for s in needle]
    first = wanted[0]
    hits = [i for i in range(len(lines) - len(wanted) + 1)
            if key(lines[i]) == first and [key(s) for s in lines[i:i + len(wanted)]] == wanted]
    return min(hits, key=lambda i: abs(i - near)) if hits else None


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
    proc = subprocess.run(apply_check_command(str(repo_dir)), input=diff.encode("utf-8"),
                          capture_output=True, check=False)
    error = proc.stderr.decode("utf-8", "replace").strip()
    return ApplyCheck(proc.returncode == 0, "" if proc.returncode == 0 else error)
