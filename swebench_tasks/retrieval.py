"""Code context for a generation prompt: which files (or spans) of the repository to show.

A model can only patch code it sees, and a patch applies only if its context lines
are copied from the real file. So the prompt shows the files most likely to need the
fix, with line numbers, at the base commit. Ranking follows the evidence an engineer
would use: files the issue names, traceback frames, identifiers it mentions that a
file defines, then BM25 over the code. Files that do not fit the token budget whole
are cut to spans around that evidence.

Tokens are approximated as len(text) / 4: a budget needs no tokenizer (none matches
every provider) and code runs close to four characters per token.
"""

from __future__ import annotations

import io
import json
import math
import re
import shlex
import subprocess
import tarfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from swebench_tasks.errors import SwebenchError
from swebench_tasks.files import safe_name, write_atomic

CHARS_PER_TOKEN = 4
DEFAULT_BUDGET = 13_000  # tokens when the context length is unknown: SWE-bench's "BM25 13K"
MAX_BUDGET = 40_000  # SWE-bench's largest BM25 setting; more costs more than it resolves
REPLY_RESERVE = 4_096 + 1_500  # the reply's max_tokens plus the prompt's own text
MAX_FILE_BYTES = 512 * 1024  # larger files are data or generated code, not the fix
MAX_FILES = 30
MIN_USEFUL_TOKENS = 150  # a span smaller than this tells the model nothing
TOP_FILE_PAD = 30  # extra lines around each span of the top-ranked file

_TEST_DIRS = {"test", "tests", "testing", "unittests"}
_VENDORED_DIRS = {
    "vendor",
    "vendored",
    "_vendor",
    "third_party",
    "thirdparty",
    "third-party",
    "node_modules",
    "extern",
    "externals",
    "site-packages",
    "build",
    "dist",
}
_SKIP_SUFFIXES = (
    ".svg",
    ".lock",
    ".map",
    ".min.js",
    ".min.css",
    ".csv",
    ".tsv",
    ".pdf",
    ".ipynb",
    ".po",
    ".pem",
    ".dat",
    ".fits",
)
_DOC_SUFFIXES = (".rst", ".md", ".txt", ".html", ".tex")
_STOPWORDS = set(
    """a an and are as at be but by for from has have how i if in into is it its
not of on or so that the this to was we when where which while why will with you your
def class self return import none true false else elif pass raise try except finally lambda
yield async await with del global nonlocal assert break continue print cls args kwargs
""".split()
)

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAMEL_SPLIT = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_SNAKE_RE = re.compile(r"\b_*[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+_*")
_DOTTED_RE = re.compile(r"\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_TICKED_RE = re.compile(r"`([A-Za-z_]\w{2,})(?:\(\))?`")
_PATH_RE = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.[A-Za-z]{1,5}|(?:[\w.-]+/)+[\w.-]+)")
_TRACE_RES = (re.compile(r'File "([^"]+)", line (\d+)'), re.compile(r"^\s*([\w./-]+\.\w+):(\d+):", re.MULTILINE))
_DEF_RE = re.compile(
    r"^[ \t]*(?:export\s+)?(?:pub(?:\([\w:]+\))?\s+)?(?:async\s+)?"
    r"(?:def|class|function|func|fn|struct|interface|trait|enum)\s+\*?([A-Za-z_]\w*)"
    r"|^([A-Za-z_]\w*)\s*(?::[^=\n]*)?=(?!=)",
    re.MULTILINE,
)


class RepoUnavailable(SwebenchError):
    """The repository at the base commit could not be read (no engine, image or remote).

    The caller falls back to the next source, and finally to the statement alone.
    """


@dataclass
class ContextFile:
    path: str
    text: str  # lines start_line..end_line of the file, each ending in "\n"
    start_line: int  # 1-based, inclusive
    end_line: int
    reason: str  # why it was picked, for the record and for debugging retrieval

    def numbered(self) -> str:
        """The lines as SWE-bench's prompts show them: `<number> <line>`."""
        lines = self.text.split("\n")
        if lines[-1] == "":
            lines.pop()
        return "\n".join(f"{n} {line}" for n, line in enumerate(lines, self.start_line))


@dataclass
class Context:
    files: list[ContextFile]
    budget_tokens: int
    used_tokens: int
    strategy: str  # how the files were chosen, e.g. "retrieval"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Context:
        data = json.loads(text)
        data["files"] = [ContextFile(**f) for f in data["files"]]
        return cls(**data)


def estimate_tokens(text: str) -> int:
    """len(text) / 4, rounded up: see the module docstring."""
    return -(-len(text) // CHARS_PER_TOKEN)


def span_tokens(cf: ContextFile) -> int:
    """What one ContextFile costs in the prompt: numbered lines plus its path markers."""
    return estimate_tokens(cf.numbered()) + estimate_tokens(cf.path) * 2 + 8


# ---------------------------------------------------------------------------- evidence


@dataclass
class _Evidence:
    """What a problem statement says about where the bug is."""

    mentions: list[str]  # path-like strings
    frames: list[tuple[str, int]]  # (path as written, line) from tracebacks
    identifiers: set[str]  # names a file could define
    modules: list[str]  # dotted names read as module paths: a/b/c
    query: list[str]  # BM25 query tokens


def _evidence(statement: str) -> _Evidence:
    frames = [(m.group(1), int(m.group(2))) for rx in _TRACE_RES for m in rx.finditer(statement)]
    idents = {w for w in _IDENT_RE.findall(statement) if _is_camel(w)}
    idents |= set(_TICKED_RE.findall(statement))
    idents |= {s for s in _SNAKE_RE.findall(statement) if not s.startswith("__")}
    modules: list[str] = []
    for dotted in _DOTTED_RE.findall(statement):
        parts = dotted.split(".")
        if parts[-1] in {"py", "pyx", "js", "ts", "c", "h", "rs", "go", "java", "rb"}:
            continue
        idents.add(parts[-1])
        modules.append("/".join(parts))
    idents = {i for i in idents if len(i) >= 3 and i.lower() not in _STOPWORDS}
    return _Evidence(_PATH_RE.findall(statement), frames, idents, modules, tokenize(statement))


def _is_camel(word: str) -> bool:
    """CamelCase, camelCase or HTTPConnection: an upper-case letter after the first, and a lower."""
    return any(c.isupper() for c in word[1:]) and any(c.islower() for c in word)


def tokenize(text: str) -> list[str]:
    """Code-aware tokens: each identifier lowercased, plus its snake/camel parts."""
    return [tok for ident in _IDENT_RE.findall(text) for tok in _ident_tokens(ident)]


@lru_cache(maxsize=65536)
def _ident_tokens(ident: str) -> tuple[str, ...]:
    low = ident.lower()
    parts = [p.lower() for chunk in ident.split("_") for p in _CAMEL_SPLIT.findall(chunk)]
    candidates = (low, *parts) if len(parts) > 1 else (low,)
    return tuple(t for t in candidates if len(t) > 1 and t not in _STOPWORDS)


def _matching_paths(written: str, paths: list[str]) -> list[str]:
    """Repository paths a written path means: exact, or either one a suffix of the other."""
    written = written.strip("./")
    if not written:
        return []
    exact = [p for p in paths if p == written]
    if exact:
        return exact
    tail = "/" + written
    return [p for p in paths if p.endswith(tail) or tail.endswith("/" + p)]


def _module_files(modules: list[str], paths: list[str]) -> list[str]:
    """For each dotted name (as a/b/c/d), the file of its longest prefix that is a module."""
    found: list[str] = []
    for module in modules:
        parts = module.split("/")
        for n in range(len(parts), 1, -1):
            stem = "/".join(parts[:n])
            hit = next((c for c in (stem + ".py", stem + "/__init__.py") if _matching_paths(c, paths)), None)
            if hit:
                found.append(hit)
                break
    return found


def _definitions(text: str) -> dict[str, int]:
    """Names a file defines (def/class/function/... and top-level assignments) -> line."""
    found: dict[str, int] = {}
    for m in _DEF_RE.finditer(text):
        name = m.group(1) or m.group(2)
        found.setdefault(name, text.count("\n", 0, m.start()) + 1)
    return found


def _is_candidate(path: str, text: str) -> bool:
    parts = path.lower().split("/")
    name = parts[-1]
    return not (
        len(text) > MAX_FILE_BYTES
        or "\0" in text[:8192]
        or any(p in _VENDORED_DIRS or p.startswith(".") for p in parts[:-1])
        or name.endswith(_SKIP_SUFFIXES)
    )


def _is_test(path: str) -> bool:
    parts = path.lower().split("/")
    name = parts[-1]
    return (
        any(p in _TEST_DIRS for p in parts[:-1])
        or name.startswith("test_")
        or name.endswith(("_test.py", "_tests.py"))
        or name == "conftest.py"
    )


# ---------------------------------------------------------------------------- ranking


class BM25:
    """Okapi BM25 over tokenised documents.

    k1=0.9, b=0.4 are Pyserini's defaults, which SWE-bench's own BM25 retrieval used.
    """

    def __init__(self, docs: Mapping[str, list[str]], k1: float = 0.9, b: float = 0.4):
        self.k1, self.b = k1, b
        self.tf = {name: Counter(tokens) for name, tokens in docs.items()}
        self.length = {name: len(tokens) for name, tokens in docs.items()}
        self.avg_length = (sum(self.length.values()) / len(docs)) if docs else 0.0
        self.df: Counter[str] = Counter()
        for counts in self.tf.values():
            self.df.update(counts.keys())

    def idf(self, term: str) -> float:
        n, df = len(self.tf), self.df.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def scores(self, query: list[str]) -> dict[str, float]:
        terms = {t: self.idf(t) for t in set(query) if t in self.df}
        out: dict[str, float] = {}
        for name, counts in self.tf.items():
            norm = self.k1 * (1 - self.b + self.b * self.length[name] / (self.avg_length or 1))
            score = sum(idf * counts[t] * (self.k1 + 1) / (counts[t] + norm) for t, idf in terms.items() if t in counts)
            if score > 0:
                out[name] = score
        return out


def rank_files(problem_statement: str, files: Mapping[str, str]) -> list[tuple[str, float, str]]:
    """Files ranked by how likely the fix lands in them: (path, score, reason), best first.

    Evidence weighs, in order: the statement names the path; a traceback frame is in
    it; it defines an identifier the statement mentions (a name defined in k files
    counts 1/k, so `save` weighs little and `QuerySet` a lot); BM25 similarity (at
    most 5, halved for docs). Tests are skipped unless named; so are vendored dirs,
    binaries and files over MAX_FILE_BYTES.
    """
    ev = _evidence(problem_statement)
    paths = [p for p, text in files.items() if _is_candidate(p, text)]
    score: dict[str, float] = {}
    reasons: dict[str, list[str]] = {}

    def credit(path: str, points: float, reason: str) -> None:
        score[path] = score.get(path, 0.0) + points
        reasons.setdefault(path, []).append(reason)

    named: set[str] = set()
    for written in dict.fromkeys(ev.mentions + _module_files(ev.modules, paths)):
        hits = _matching_paths(written, paths)
        for path in hits:
            named.add(path)
            credit(path, 100 / len(hits), f"named in the statement as {written}")
    for written, line in ev.frames:
        hits = _matching_paths(written, paths)
        for path in hits:
            named.add(path)
            credit(path, 50 / len(hits), f"traceback line {line}")
    pool = [p for p in paths if p in named or not _is_test(p)]
    defs = {p: _definitions(files[p]) for p in pool}
    for ident in sorted(ev.identifiers):
        definers = [p for p in pool if ident in defs[p]]
        for path in definers:
            credit(path, 10 / len(definers), f"defines {ident}")
    bm25 = BM25({p: tokenize(files[p]) for p in pool}).scores(ev.query)
    top = max(bm25.values(), default=0.0)
    for path, value in bm25.items():
        weight = 0.5 if path.endswith(_DOC_SUFFIXES) or "doc" in path.split("/")[0] else 1.0
        credit(path, 5 * weight * value / top, f"bm25 {value:.1f}")
    ranked = sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(path, value, "; ".join(reasons[path])) for path, value in ranked]


# ---------------------------------------------------------------------------- budget


def budget_for(model: str, context_length: int | None) -> int:
    """Tokens of code to show `model`: three quarters of what its context leaves after the
    reply and the prompt's own text, capped at MAX_BUDGET.

    Without a known context length, a size in the model's name ("-32k") is used, else
    DEFAULT_BUDGET.
    """
    if context_length is None:
        sized = re.search(r"(\d+)k\b", model.lower())
        context_length = int(sized.group(1)) * 1024 if sized else None
    if context_length is None:
        return DEFAULT_BUDGET
    return max(1_000, min(MAX_BUDGET, int((context_length - REPLY_RESERVE) * 0.75)))


def fit_budget(
    ranked: list[tuple[str, float, str]], files: Mapping[str, str], budget_tokens: int, *, problem_statement: str = ""
) -> Context:
    """The best evidence that fits `budget_tokens`, in rank order.

    A file that fits whole is shown whole. Otherwise spans around its evidence (the
    problem_statement's traceback lines, definitions of the names it mentions, lines
    that share its rarest words) are taken while they fit; a span is trimmed to what
    is left rather than dropped.
    """
    ev = _evidence(problem_statement)
    chosen: list[ContextFile] = []
    left = budget_tokens
    for rank, (path, _, reason) in enumerate(ranked[:MAX_FILES]):
        if left < MIN_USEFUL_TOKENS:
            break
        text = files[path]
        lines = text.splitlines(keepends=True)
        whole = _span(path, lines, 0, len(lines), reason)
        if span_tokens(whole) <= left:
            chosen.append(whole)
            left -= span_tokens(whole)
            continue
        spans: list[ContextFile] = []
        pad = TOP_FILE_PAD if rank == 0 else 0  # the likeliest file gets more surroundings
        for focus, start, end in _focus_spans(path, lines, ev):
            start, end = max(0, start - pad), min(len(lines), end + pad)
            if left < MIN_USEFUL_TOKENS:
                break
            if any(s.start_line <= focus + 1 <= s.end_line for s in spans):
                continue
            for s in spans:  # never show a line twice
                if s.end_line <= focus:
                    start = max(start, s.end_line)
                else:
                    end = min(end, s.start_line - 1)
            cf = _trim_to(path, lines, focus, start, end, left, reason)
            if cf is not None:
                spans.append(cf)
                left -= span_tokens(cf)
        chosen.extend(sorted(spans, key=lambda s: s.start_line))
    return Context(chosen, budget_tokens, budget_tokens - left, "retrieval")


def _span(path: str, lines: list[str], start: int, end: int, reason: str) -> ContextFile:
    """Lines[start:end] (0-based, end exclusive) as a ContextFile."""
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines[start:end])
    return ContextFile(path, text, start + 1, end, reason)


def _trim_to(
    path: str, lines: list[str], focus: int, start: int, end: int, tokens: int, reason: str
) -> ContextFile | None:
    """The span, shrunk from its side farther from `focus` until it fits; None if nothing does."""
    while True:
        cf = _span(path, lines, start, end, reason)
        if span_tokens(cf) <= tokens:
            return cf
        if end - start <= 1:
            return None
        cut = max(1, (end - start) // 8)
        if focus - start > end - 1 - focus:
            start = min(focus, start + cut)
        else:
            end = max(focus + 1, end - cut)


def _focus_spans(path: str, lines: list[str], ev: _Evidence) -> list[tuple[int, int, int]]:
    """(focus line, span start, span end), 0-based, most telling first."""
    out: list[tuple[int, int, int]] = []
    for written, line in ev.frames:
        if path in _matching_paths(written, [path]) and 0 < line <= len(lines):
            out.append((line - 1, max(0, line - 21), min(len(lines), line + 10)))
    defs = _definitions("".join(lines))
    for ident in sorted(ev.identifiers):
        if ident in defs:
            at = defs[ident] - 1
            out.append((at, *_block(lines, at)))
    if not out:
        out = [(at, max(0, at - 15), min(len(lines), at + 16)) for at in _lexical_lines(lines, ev)]
    if not out:
        out = [(0, 0, min(len(lines), 60))]
    return out


def _block(lines: list[str], at: int, limit: int = 150) -> tuple[int, int]:
    """The def/class starting at `at`: its decorators and body, at most `limit` lines."""
    start = at
    indent = len(lines[at]) - len(lines[at].lstrip())
    while start > 0 and lines[start - 1].strip().startswith("@"):
        start -= 1
    end = at + 1
    while end < len(lines) and end - at < limit:
        line = lines[end]
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        end += 1
    return start, end


def _lexical_lines(lines: list[str], ev: _Evidence, count: int = 3) -> list[int]:
    """Indexes of the lines sharing the most (rarest-first) statement words."""
    query = Counter(ev.query)
    rare = {t for t, n in query.items() if n <= 2}
    scored = [(sum(1 for t in set(tokenize(line)) if t in rare), i) for i, line in enumerate(lines)]
    best = sorted((s for s in scored if s[0] > 0), key=lambda s: (-s[0], s[1]))[:count]
    return [i for _, i in best]


def retrieve(instance: dict, files: dict[str, str], budget_tokens: int) -> Context:
    """Rank the repository's files for this instance and fit the best into the budget."""
    statement = instance.get("problem_statement", "") + "\n" + (instance.get("hints_text") or "")
    ranked = rank_files(statement, files)
    return fit_budget(ranked, files, budget_tokens, problem_statement=statement)


# ---------------------------------------------------------------------------- the cached file

# The budget is written first: the up-to-date check of a full selection reads a few bytes
# of each cached context (tens of kB of code), not all of it.
_BUDGET_HEAD = re.compile(rb'\{"budget_tokens": (\d+)[,}]')


def write_context(path: Path, budget_tokens: int, context: Context | None) -> None:
    """Cache one instance's context; None marks it statement-only (no repository was reachable)."""
    data: dict = {"budget_tokens": budget_tokens}
    if context is None:
        data.update(strategy="statement", files=[])
    else:
        data.update(asdict(context), budget_tokens=budget_tokens)
    write_atomic(path, json.dumps(data))


def cached_budget(path: Path) -> int | None:
    """The token budget a cached context was fitted to; None if there is none to read."""
    try:
        with open(path, "rb") as f:
            head = _BUDGET_HEAD.match(f.read(64))
        if head:
            return int(head.group(1))
        return json.loads(path.read_text()).get("budget_tokens")
    except (OSError, ValueError):
        return None


def read_context(path: Path) -> Context | None:
    """The cached Context, or None when the cache says statement-only (or there is none)."""
    try:
        text = path.read_text()
    except OSError:
        return None
    if json.loads(text).get("strategy") == "statement":
        return None
    return Context.from_json(text)


# ---------------------------------------------------------------------------- reading the repo


def _text_files(tar_bytes: bytes, max_bytes: int) -> dict[str, str]:
    """Regular UTF-8 text files of a tar, each at most max_bytes: path -> text."""
    out: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        for member in tar:
            if not member.isreg() or member.size > max_bytes:
                continue
            name = member.name.removeprefix("./")
            handle = tar.extractfile(member)
            data = handle.read() if handle else b""
            if b"\0" in data[:8192]:
                continue
            try:
                out[name] = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
    return out


def read_repo_from_image(
    image: str, *, docker_host: str | None = None, max_bytes: int = MAX_FILE_BYTES
) -> dict[str, str]:
    """The tracked text files of /testbed in `image` (path -> text), via a short-lived container.

    /testbed in an instance image is the repository at the base commit, and it is the
    very tree the harness applies the patch to. Only git-tracked files are read (no
    build output); the container is removed whatever happens. The image must be local.
    """
    import docker  # heavy: only where an image is read
    from docker.errors import DockerException

    env = None if docker_host is None else {"DOCKER_HOST": docker_host}
    container = None
    try:
        client = docker.from_env(environment=env)
        container = client.containers.create(image, command=["tail", "-f", "/dev/null"], network_disabled=True)
        container.start()
        code, (out, err) = container.exec_run(
            ["sh", "-c", "git -C /testbed ls-files -z | tar -C /testbed --null --no-recursion -T - -cf -"], demux=True
        )
        if code != 0:
            raise RepoUnavailable(
                f"could not read /testbed in {image}: " + (err or b"").decode("utf-8", "replace").strip()[-300:]
            )
        return _text_files(out or b"", max_bytes)
    except DockerException as exc:
        raise RepoUnavailable(
            f"could not read /testbed in {image}: {exc}", fix="check the Docker engine (swebench preflight)"
        ) from exc
    finally:
        if container is not None:
            try:
                container.remove(force=True)
            except DockerException:
                pass  # already gone; nothing left to clean


def repo_dir_name(repo: str) -> str:
    """The cache's name for a repository ("django/django" -> "django__django"); a name from
    the dataset, so never a path as it is (files.safe_name)."""
    return safe_name(repo.replace("/", "__"))


def default_remote(repo: str) -> str:
    """Where `repo` is fetched from (git's `url.<base>.insteadOf` can point it elsewhere)."""
    return f"https://github.com/{repo}.git"


_COMMIT = re.compile(r"[0-9a-f]{7,64}")  # a dataset's base_commit reaches git's argv only if it is a hash


class GitCache:
    """One bare repository per `repo` under `root`, holding every commit fetched so far.

    Fetches take the repository's file lock (parallel tasks and processes share the cache);
    reads (`git archive`) take none, so many instances of one repository are read at once.
    Each commit is fetched shallowly into a ref of its own, so gc never prunes one. The
    export-ignore attribute is neutralised so an archive holds every tracked file.
    """

    def __init__(self, root: Path):
        self.root = root

    def git_dir(self, repo: str) -> Path:
        return self.root / (repo_dir_name(repo) + ".git")

    def _git(self, repo: str, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["git", "--git-dir", str(self.git_dir(repo)), *args], input=stdin, capture_output=True, check=False
        )

    def missing(self, repo: str, commits: list[str]) -> list[str]:
        """The commits not in the cache yet (one `git cat-file --batch-check` for all)."""
        asked = [c for c in commits if _COMMIT.fullmatch(c)]
        present: set[str] = set()
        if asked and self.git_dir(repo).exists():
            out = self._git(
                repo, "cat-file", "--batch-check", stdin="".join(f"{c}^{{commit}}\n" for c in asked).encode()
            )
            answers = out.stdout.decode("utf-8", "replace").splitlines() if out.returncode == 0 else []
            # no answers at all when git failed
            present = {c for c, line in zip(asked, answers, strict=False) if not line.endswith("missing")}
        return [c for c in commits if c not in present]

    def fetch(self, repo: str, commits: list[str], url: str | None = None) -> list[str]:
        """Fetch the missing `commits` of `repo` in one `git fetch`; returns those still missing.

        Raises RepoUnavailable when the remote cannot be fetched from. A batch refused for
        an unknown commit ("not our ref": one fails the whole fetch) is retried a commit at a
        time; any other failure is the remote's, and is not retried.
        """
        url = url or default_remote(repo)
        commits = [c for c in dict.fromkeys(commits) if _COMMIT.fullmatch(c)]
        self.root.mkdir(parents=True, exist_ok=True)
        from filelock import FileLock

        with FileLock(self.root / (repo_dir_name(repo) + ".lock")):
            git_dir = self.git_dir(repo)
            if not git_dir.exists():
                subprocess.run(["git", "init", "--bare", "-q", str(git_dir)], check=True, capture_output=True)
                (git_dir / "info").mkdir(exist_ok=True)
                (git_dir / "info" / "attributes").write_text("* -export-ignore -export-subst\n")
            wanted = self.missing(repo, commits)
            if not wanted:
                return []
            batch = self._fetch(repo, url, wanted)
            error = batch.stderr.decode("utf-8", "replace").strip()
            if batch.returncode != 0 and "not our ref" not in error:
                raise RepoUnavailable(
                    f"could not fetch {repo} from {url}: {error[-300:]}",
                    fix="check the network, or run where Docker can read the instance images",
                )
            if batch.returncode != 0 and len(wanted) > 1:
                for commit in wanted:
                    self._fetch(repo, url, [commit])
            return self.missing(repo, wanted)

    def _fetch(self, repo: str, url: str, commits: list[str]) -> subprocess.CompletedProcess[bytes]:
        return self._git(repo, "fetch", "-q", "--depth", "1", url, *(f"+{c}:refs/commits/{c}" for c in commits))

    def read(self, repo: str, commit: str, max_bytes: int = MAX_FILE_BYTES) -> dict[str, str]:
        """The text files of `repo` at `commit` (which must be in the cache): path -> text."""
        if not _COMMIT.fullmatch(commit):
            raise RepoUnavailable(
                f"{repo}: {commit[:50]!r} is not a commit hash", fix="check the dataset's base_commit"
            )
        archive = self._git(repo, "archive", "--format=tar", commit)
        if archive.returncode != 0:
            raise RepoUnavailable(
                f"could not read {repo}@{commit[:12]}: " + archive.stderr.decode("utf-8", "replace").strip()[-300:]
            )
        return _text_files(archive.stdout, max_bytes)


def read_repo_from_git(
    repo: str, base_commit: str, cache_dir: Path, *, remote_url: str | None = None, max_bytes: int = MAX_FILE_BYTES
) -> dict[str, str]:
    """The text files of `repo` at `base_commit`, fetched shallowly (if not cached yet) into a
    GitCache under cache_dir. `remote_url` defaults to GitHub (tests pass a local path)."""
    cache = GitCache(cache_dir)
    if cache.missing(repo, [base_commit]) and cache.fetch(repo, [base_commit], remote_url):
        raise RepoUnavailable(f"{repo} has no commit {base_commit[:12]}", fix="check the dataset's base_commit")
    return cache.read(repo, base_commit, max_bytes)


def check_in_image(image: str, diff: str) -> tuple[bool, str, str]:
    """(applies, git's error, patch): a refused patch is repaired once more with the real file texts.

    Repair may refuse the patch (a hunk it cannot place): its reason joins git's error,
    which goes back to the model with the retry.
    """
    import docker

    from swebench_tasks.diffs import NoUsableDiff, apply_check_command, patch_from_reply, touched_paths

    client = docker.from_env()
    container = None
    check = shlex.join(apply_check_command("/testbed")) + " < /tmp/swebench_check.diff"

    def attempt(patch: str) -> tuple[bool, str]:
        assert container is not None, "created before the first attempt"
        container.put_archive("/tmp", _tar({"swebench_check.diff": patch}))
        result = container.exec_run(["sh", "-c", check], workdir="/testbed")
        return result.exit_code == 0, result.output.decode(errors="replace").strip()

    try:
        container = client.containers.create(image, command="tail -f /dev/null", working_dir="/testbed")
        container.start()
        ok, error = attempt(diff)
        if ok:
            return True, "", diff
        files = {}
        for path in touched_paths(diff):
            shown = container.exec_run(["git", "show", f"HEAD:{path}"], workdir="/testbed")
            if shown.exit_code == 0:
                files[path] = shown.output.decode(errors="replace")
        try:
            repaired = patch_from_reply(diff, files) if files else diff
        except NoUsableDiff as exc:
            return False, f"{error}\n{exc.message}", diff
        if repaired != diff and attempt(repaired)[0]:
            return True, "", repaired
        return False, error, diff
    except docker.errors.DockerException as exc:
        raise SwebenchError(f"apply check failed in {image}: {exc}") from None
    finally:
        if container is not None:
            container.remove(force=True)


def _tar(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
