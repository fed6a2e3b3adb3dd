"""Retrieval: ranking, the token budget, the JSON record, and reading a repository at a commit."""

from __future__ import annotations

import fcntl
import json
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from swebench_tasks.retrieval import (
    BM25, DEFAULT_BUDGET, MAX_BUDGET, Context, ContextFile, GitCache, RepoUnavailable, budget_for,
    estimate_tokens, fit_budget, rank_files, read_repo_from_git, read_repo_from_image, retrieve,
    span_tokens, tokenize,
)
from swebench_tasks.diffs import check_apply, repair_diff
from tests.test_diffs import git, make_repo
from tests.test_run import DIFF as DIFF_REPLY, swebench

REPO = {
    "shop/cart.py": (
        "from shop.money import Money\n\n\n"
        "class ShoppingCart:\n"
        "    def __init__(self):\n"
        "        self.items = []\n\n"
        "    def add_item(self, item, quantity=1):\n"
        "        self.items.append((item, quantity))\n\n"
        "    def total(self):\n"
        "        return sum(i.price * q for i, q in self.items)\n"
    ),
    "shop/money.py": (
        "class Money:\n"
        "    def __init__(self, amount, currency):\n"
        "        self.amount = amount\n"
        "        self.currency = currency\n\n"
        "    def convert(self, rate):\n"
        "        return Money(self.amount * rate, self.currency)\n"
    ),
    "shop/units.py": (
        "def to_celsius(degrees):\n"
        "    # fahrenheit to celsius: subtract thirty-two, times five ninths\n"
        "    return (degrees - 32) * 9 / 5\n\n\n"
        "def to_kelvin(degrees):\n"
        "    return degrees + 273.15\n"
    ),
    "shop/discounts.py": (
        "def apply_discount(cart, percent):\n"
        "    return cart.total() * (1 - percent / 100)\n"
    ),
    "shop/tests/test_cart.py": (
        "from shop.cart import ShoppingCart\n\n"
        "def test_total():\n    assert ShoppingCart().total() == 0\n"
    ),
    "shop/vendor/six.py": "class ShoppingCart:\n    pass\n",
    "docs/guide.rst": "Shopping cart guide: add items, compute the total, discounts.\n",
}


def first(statement: str, files: dict[str, str] = REPO) -> str:
    return rank_files(statement, files)[0][0]


def test_ranked_first_when_named_only_by_an_identifier() -> None:
    statement = "Calling add_item twice with the same product double counts it."
    assert first(statement) == "shop/cart.py"
    assert "defines add_item" in rank_files(statement, REPO)[0][2]


def test_ranked_first_when_named_only_by_a_traceback() -> None:
    statement = (
        "Crash:\nTraceback (most recent call last):\n"
        '  File "/opt/venv/lib/python3.11/site-packages/shop/discounts.py", line 2, in x\n'
        "ZeroDivisionError\n"
    )
    path, _, reason = rank_files(statement, REPO)[0]
    assert path == "shop/discounts.py" and "traceback line 2" in reason


def test_ranked_first_when_matched_only_lexically() -> None:
    statement = "Converting fahrenheit readings to celsius gives numbers that are far too large."
    path, _, reason = rank_files(statement, REPO)[0]
    assert path == "shop/units.py" and reason.startswith("bm25")


def test_a_named_path_wins_and_dotted_modules_count_as_paths() -> None:
    assert first("See shop/money.py, the cart total is off") == "shop/money.py"
    assert first("shop.money.Money.convert ignores the currency") == "shop/money.py"


def test_tests_and_vendored_files_are_skipped_unless_named() -> None:
    ranked = [p for p, _, _ in rank_files("ShoppingCart total is wrong", REPO)]
    assert "shop/tests/test_cart.py" not in ranked and "shop/vendor/six.py" not in ranked
    named = [p for p, _, _ in rank_files("shop/tests/test_cart.py fails", REPO)]
    assert named[0] == "shop/tests/test_cart.py"


def test_binary_and_huge_files_are_skipped() -> None:
    files = {"a.py": "total = 1\n", "b.bin": "total\0\0", "c.py": "total = 2\n" * 100_000}
    assert [p for p, _, _ in rank_files("total", files)] == ["a.py"]


def test_tokenize_splits_code_identifiers() -> None:
    assert tokenize("getHTTPResponse user_name") == [
        "gethttpresponse", "get", "http", "response", "user_name", "user", "name"]


def test_bm25_prefers_the_rarer_term() -> None:
    scores = BM25({"a": ["x", "common"], "b": ["y", "common"], "c": ["common"]}).scores(["x", "common"])
    assert max(scores, key=scores.get) == "a"


def test_whole_files_when_they_fit() -> None:
    ranked = rank_files("ShoppingCart total", REPO)
    ctx = fit_budget(ranked, REPO, 10_000, problem_statement="ShoppingCart total")
    assert [f.path for f in ctx.files] == [p for p, _, _ in ranked]
    assert all(f.start_line == 1 and f.text == REPO[f.path] for f in ctx.files)
    assert ctx.used_tokens == sum(span_tokens(f) for f in ctx.files) <= ctx.budget_tokens


def test_spans_around_the_evidence_when_a_file_is_too_big() -> None:
    filler = "".join(f"def helper_{i}(x):\n    return x + {i}\n\n\n" for i in range(400))
    big = filler + "def parse_header(raw):\n    key, value = raw.split(':')\n    return key\n\n\n" + filler
    files = {"pkg/big.py": big, "pkg/other.py": "def unrelated():\n    pass\n"}
    statement = "parse_header fails on values that contain a colon"
    assert estimate_tokens(big) > 2_000
    ctx = retrieve({"problem_statement": statement}, files, 2_000)
    assert ctx.used_tokens <= 2_000 and ctx.strategy == "retrieval"
    spans = [f for f in ctx.files if f.path == "pkg/big.py"]
    assert spans and spans[0].start_line > 1 and spans[0].end_line < big.count("\n")
    assert "def parse_header(raw):" in spans[0].text
    numbered = spans[0].numbered().splitlines()
    header_line = big.splitlines().index("def parse_header(raw):") + 1
    assert f"{header_line} def parse_header(raw):" in numbered


def test_a_traceback_line_is_in_the_span() -> None:
    body = "".join(f"value_{i} = {i}\n" for i in range(3000))
    statement = 'File "pkg/consts.py", line 2500, in <module>\nNameError'
    ctx = retrieve({"problem_statement": statement}, {"pkg/consts.py": body}, 500)
    assert ctx.files and all(f.start_line <= 2500 <= f.end_line for f in ctx.files[:1])
    assert "value_2499 = 2499" in ctx.files[0].text and ctx.used_tokens <= 500


def test_context_json_round_trip() -> None:
    ctx = Context([ContextFile("a.py", "x = 1\n", 3, 3, "bm25 1.0")], 100, 5, "retrieval")
    assert Context.from_json(ctx.to_json()) == ctx


def test_budget_for() -> None:
    assert budget_for("some-model", None) == DEFAULT_BUDGET
    assert budget_for("some-model", 2_000_000) == MAX_BUDGET
    small = budget_for("some-model", 16_384)
    assert 1_000 < small < 16_384 // 2
    assert budget_for("gpt-4-32k", None) == budget_for("x", 32 * 1024)


# ---- reading the repository at the base commit


@pytest.fixture
def remote(tmp_path: Path) -> tuple[Path, str, str]:
    """A bare repository with two commits; the first is the 'base commit'."""
    work = make_repo(tmp_path / "work", {
        "pkg/a.py": "A = 1\n", ".gitattributes": "pkg/ignored.py export-ignore\n",
        "pkg/ignored.py": "I = 1\n", "logo.png": "\x89PNG\0\0data", "big.txt": "x" * 600_000,
    })
    base = git(work, "rev-parse", "HEAD").strip()
    (work / "pkg/a.py").write_text("A = 2\n")
    git(work, "commit", "-qam", "later")
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    git(bare, "config", "uploadpack.allowAnySHA1InWant", "true")  # as GitHub allows
    return bare, base, git(work, "rev-parse", "HEAD").strip()


def test_read_repo_from_git_at_the_base_commit_and_cached(remote, tmp_path: Path) -> None:
    bare, base, head = remote
    cache = tmp_path / "cache"
    files = read_repo_from_git("owner/proj", base, cache, remote_url=str(bare))
    assert files == {"pkg/a.py": "A = 1\n", ".gitattributes": "pkg/ignored.py export-ignore\n",
                     "pkg/ignored.py": "I = 1\n"}
    again = read_repo_from_git("owner/proj", base, cache, remote_url=str(tmp_path / "gone.git"))
    assert again == files  # served from the cache: the remote is not asked again
    later = read_repo_from_git("owner/proj", head, cache, remote_url=str(bare))
    assert later["pkg/a.py"] == "A = 2\n"


def test_read_repo_from_git_unreachable_remote(tmp_path: Path) -> None:
    with pytest.raises(RepoUnavailable):
        read_repo_from_git("owner/proj", "0" * 40, tmp_path / "c", remote_url=str(tmp_path / "no"))


@pytest.mark.docker
def test_read_repo_from_image(docker_engine, instance_dataset, tmp_path: Path) -> None:
    """/testbed of each instance image, read in a short-lived container that is removed after;
    the buggy file ranks first and the dataset's gold patch applies to what was read."""
    client = docker_engine.client()
    for instance_id in instance_dataset.hub_ids:
        row = instance_dataset.row(instance_id)
        client.images.pull(row["image"])
        try:
            before = {c.id for c in client.containers.list(all=True)}
            files = read_repo_from_image(row["image"], docker_host=docker_engine.host)
            assert {c.id for c in client.containers.list(all=True)} == before
        finally:
            docker_engine.remove_images(row["image"])  # the fixture's images stay unpulled
        patched = [ln[6:] for ln in row["patch"].splitlines() if ln.startswith("--- a/")]
        assert patched and all(p in files for p in patched), sorted(files)
        assert not any(p.startswith(".git/") for p in files)
        assert retrieve(row, files, 4_000).files[0].path == patched[0]
        checkout = make_repo(tmp_path / instance_id, files)
        assert check_apply(repair_diff(row["patch"], files), checkout).ok
        assert not check_apply(instance_dataset.broken[instance_id], checkout).ok


def test_read_repo_from_image_without_the_image_is_unavailable() -> None:
    with pytest.raises(RepoUnavailable):
        read_repo_from_image("swebench-tasks-test/absent:none", docker_host="unix:///nonexistent.sock")


# ---- retrieval from git remotes through the graph: one fetch per repository


class GitDaemon:
    """`git daemon` on 127.0.0.1 serving bare repositories under `root` as git://.../<owner>/<name>.git."""

    def __init__(self, root: Path, log: Path):
        self.root, self.log = root, log
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.proc = subprocess.Popen(
            ["git", "daemon", "--verbose", "--export-all", "--reuseaddr", "--informative-errors",
             f"--base-path={root}", "--listen=127.0.0.1", f"--port={self.port}", str(root)],
            stdout=subprocess.DEVNULL, stderr=log.open("w"))
        for _ in range(200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"git daemon did not start: {log.read_text()}")

    @property
    def env(self) -> dict[str, str]:
        """The product's GitHub remotes served here instead (git's own url.insteadOf)."""
        return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"url.git://127.0.0.1:{self.port}/.insteadOf",
                "GIT_CONFIG_VALUE_0": "https://github.com/"}

    def requests(self, repo: str) -> int:
        """How many fetches asked for `repo`."""
        return self.log.read_text().count(f"Request upload-pack for '/{repo}.git'")

    def serve(self, repo: str, commits: list[dict[str, str]], tmp: Path) -> list[str]:
        """A repository whose successive commits hold `commits` (file trees); their hashes."""
        work = make_repo(tmp / "work" / repo, commits[0])
        hashes = [git(work, "rev-parse", "HEAD").strip()]
        for tree in commits[1:]:
            for path, text in tree.items():
                (work / path).write_text(text)
            git(work, "commit", "-qam", "next")
            hashes.append(git(work, "rev-parse", "HEAD").strip())
        bare = self.root / f"{repo}.git"
        bare.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
        git(bare, "config", "uploadpack.allowAnySHA1InWant", "true")  # as GitHub allows
        return hashes

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def git_daemon(tmp_path: Path):
    (tmp_path / "served").mkdir()
    daemon = GitDaemon(tmp_path / "served", tmp_path / "daemon.log")
    yield daemon
    daemon.stop()


def _row(repo: str, n: int, commit: str, statement: str) -> dict:
    return {"instance_id": f"{repo.replace('/', '__')}-{n}", "repo": repo, "base_commit": commit,
            "problem_statement": statement, "hints_text": "", "patch": "", "version": "1.0"}


def test_one_fetch_per_repository_and_a_failed_remote_said_once(
        workspace, git_daemon, openai_server, provider_env, monkeypatch, tmp_path):
    calc = git_daemon.serve("acme/calc", [{"calc.py": f"def add(a, b):\n    return a - b  # v{v}\n"}
                                          for v in range(3)], tmp_path)
    text = git_daemon.serve("acme/text", [{"words.py": f"def count(s):  # t{v}\n    return len(s)\n"}
                                          for v in range(2)], tmp_path)
    rows = ([_row("acme/calc", i, c, "add() subtracts in calc.py") for i, c in enumerate(calc)]
            + [_row("acme/text", i, c, "count() in words.py counts letters") for i, c in enumerate(text)]
            + [_row("acme/gone", i, "f" * 40, f"gone() fails ({i})") for i in range(3)])
    Path("data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for var, value in {**provider_env, **git_daemon.env}.items():
        monkeypatch.setenv(var, value)
    prompts: dict[str, str] = {}
    openai_server.on_chat = lambda body: prompts.setdefault(json.dumps(body["messages"]), DIFF_REPLY)
    args = ("run", "--no-input", "--json", "--provider", "openai", "--model", "gpt-4o-mini",
            "--context", "retrieval", "--generate-only", "-d", "data.jsonl", "--max-workers", "4")

    first = swebench(*args)
    assert first.returncode == 0, first.stderr
    assert [git_daemon.requests(r) for r in ("acme/calc", "acme/text", "acme/gone")] == [1, 1, 1]
    said = [ln for ln in first.stderr.splitlines() if "acme/gone" in ln]
    assert len(said) == 1 and "statement only" in said[0], first.stderr
    for n, commit in enumerate(calc):  # each instance saw its own base commit
        ctx = json.loads(Path(f".swebench/contexts/acme__calc-{n}.json").read_text())
        assert ctx["strategy"] == "retrieval" and f"# v{n}" in ctx["files"][0]["text"]
        assert Path(f".swebench/contexts/acme__calc-{n}.json").read_text().startswith('{"budget_tokens": ')
    assert json.loads(Path(".swebench/contexts/acme__text-1.json").read_text())["files"][0]["path"] == "words.py"
    assert json.loads(Path(".swebench/contexts/acme__gone-0.json").read_text())["strategy"] == "statement"
    assert len(prompts) == len(rows)

    again = swebench(*args)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["tasks"]["executed"] == []
    assert [git_daemon.requests(r) for r in ("acme/calc", "acme/text", "acme/gone")] == [1, 1, 1]
    assert "repo: 3 up to date" in again.stderr.splitlines() and "context: 8 up to date" in again.stderr


def test_a_batch_with_an_unknown_commit_fetches_the_others(remote, tmp_path: Path) -> None:
    bare, base, head = remote
    cache = GitCache(tmp_path / "cache")
    unknown = "1" * 40
    assert cache.fetch("owner/proj", [base, unknown, head], f"file://{bare}") == [unknown]
    assert cache.missing("owner/proj", [base, head, unknown]) == [unknown]
    with pytest.raises(RepoUnavailable, match="could not fetch owner/proj"):
        cache.fetch("owner/proj", [unknown], f"file://{tmp_path / 'gone.git'}")


def test_reads_take_no_lock(remote, tmp_path: Path) -> None:
    """Instances of one repository are read in parallel: a read does not wait for a fetch's lock."""
    bare, base, _ = remote
    cache = GitCache(tmp_path / "cache")
    cache.fetch("owner/proj", [base], str(bare))
    read: list[dict] = []
    with open(tmp_path / "cache" / "owner__proj.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a fetch in progress
        reader = threading.Thread(target=lambda: read.append(cache.read("owner/proj", base)))
        reader.start()
        reader.join(timeout=60)
        assert read and read[0]["pkg/a.py"] == "A = 1\n"


def test_context_currency_reads_the_budget_from_the_head_or_the_whole_file(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from swebench_tasks.stages.context import context_current

    graph = SimpleNamespace(file_verdict=lambda path, judge: judge(path))
    new = tmp_path / "new.json"
    new.write_text(json.dumps({"budget_tokens": 13000, "files": [{"text": "x" * 100_000}]}))
    old = tmp_path / "old.json"  # as written before the budget came first
    old.write_text(json.dumps({"files": [{"text": "x" * 100_000}], "strategy": "retrieval", "budget_tokens": 13000}))
    for path in (new, old):
        assert context_current(graph, path, 13000) and not context_current(graph, path, 4000)
    assert not context_current(graph, tmp_path / "absent.json", 13000)


def test_a_base_commit_that_is_not_a_hash_never_reaches_git(remote, tmp_path: Path) -> None:
    bare, base, _ = remote
    cache = GitCache(tmp_path / "cache")
    hostile = f"--output={tmp_path / 'written'}"
    assert cache.fetch("owner/proj", [base, hostile, "a\nb"], str(bare)) == []
    assert cache.missing("owner/proj", [hostile, base, "a\nb"]) == [hostile, "a\nb"]
    with pytest.raises(RepoUnavailable, match="not a commit hash"):
        cache.read("owner/proj", hostile)
    assert not (tmp_path / "written").exists()
