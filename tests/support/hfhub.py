"""The Hugging Face Hub's dataset API on 127.0.0.1, as `datasets` 5.x and `huggingface_hub` 2.x
call it when `HF_ENDPOINT` points here (a pytest plugin).

What they send was read from their source and checked by logging a real `load_dataset`
(README.md, the commit's info, `.huggingface.yaml`, the `data/` tree, `dataset_infos.json`,
then each split's parquet; every file HEAD first):
- `HEAD`/`GET /datasets/<repo>/resolve/<revision>/<path>`: `hf_hub_download` reads `X-Repo-Commit`
  (the commit it caches under), `ETag` (the git blob id of a plain file) and `Content-Length`;
  a missing file is `404` with `X-Error-Code: EntryNotFound`, a missing repo `RepoNotFound`,
  a missing revision `RevisionNotFound` (each maps to its own exception in huggingface_hub);
- `GET /api/datasets/<repo>[/revision/<revision>]`: the repo info (`sha`, `siblings`);
- `GET /api/datasets/<repo>/tree/<revision>[/<path>]?recursive=&expand=`: `HfFileSystem`
  listing (the `data/test-*` patterns of the dataset card are globbed through it);
- `POST /api/datasets/<repo>/paths-info/<revision>` (form `paths`, `expand`): `HfFileSystem.info`
  (served for completeness: a Lite-shaped load does not call it today);
- `GET /api/agent-harnesses`: huggingface_hub's once-a-day registry fetch (an empty registry).
The dataset viewer (`datasets-server.<host>`) is a host of its own whose name does not resolve
(`datasets-server.127.0.0.1`); `datasets` then reads the repository's own files, as it does for
a repo with no parquet export.

A repository is README.md (the dataset card, whose YAML maps each split to `data/<split>-*`)
plus one parquet file per split; its commit is derived from its content. Files are plain git
blobs (no LFS, no Xet), so the downloads are plain `GET`s.

`hf_hub` (per test) is a reset server publishing `SWE-bench/SWE-bench_Lite` (what `-d lite`
names) with Lite-shaped rows of the suite's instances; `hf_env` points this process and its
children at it with a private `HF_HOME` (and so a private `datasets` cache).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import socket
import socketserver
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Iterable
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from tests.support.engine import INSTANCES, hub_image
from tests.support.loopback import LoopbackServer

LITE = "SWE-bench/SWE-bench_Lite"
# The SWE-bench 5.x columns, in the order the Hub's Lite has them.
COLUMNS = ("repo", "instance_id", "base_commit", "patch", "test_patch", "problem_statement", "hints_text",
           "created_at", "version", "FAIL_TO_PASS", "PASS_TO_PASS", "environment_setup_commit", "image",
           "eval_script", "log_parser", "eval_type")
PLACEHOLDER_COMMIT = "0" * 40  # rows for runs that never reach an image


def lite_rows(base_commits: dict[str, str] | None = None) -> list[dict[str, str]]:
    """The suite's instances as Lite rows; pass the real base commits (instance_dataset's) to
    evaluate them, or leave them out for runs that stop before evaluation."""
    return [i.row((base_commits or {}).get(i.instance_id, PLACEHOLDER_COMMIT), hub_image(i.instance_id))
            for i in INSTANCES]


def parquet(rows: list[dict]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist([{c: row.get(c) for c in COLUMNS} for row in rows],
                                 schema=pa.schema([(c, pa.string()) for c in COLUMNS]))
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def dataset_card(splits: Iterable[str]) -> bytes:
    files = "".join(f"  - split: {s}\n    path: data/{s}-*\n" for s in splits)
    return (f"---\nconfigs:\n- config_name: default\n  data_files:\n{files}---\n\n"
            "# SWE-bench Lite (test copy)\n").encode()


def blob_id(data: bytes) -> str:
    """The git blob id, which the Hub sends as a plain file's ETag and tree `oid`."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    files: dict[str, bytes]

    @property
    def sha(self) -> str:
        digest = hashlib.sha1()
        for path in sorted(self.files):
            digest.update(path.encode() + b"\0" + blob_id(self.files[path]).encode())
        return digest.hexdigest()

    def folders(self) -> set[str]:
        return {"/".join(p.split("/")[:i]) for p in self.files for i in range(1, p.count("/") + 1)}

    def entry(self, path: str) -> dict | None:
        if path in self.files:
            data = self.files[path]
            return {"type": "file", "path": path, "size": len(data), "oid": blob_id(data)}
        if path in self.folders():
            return {"type": "directory", "path": path, "oid": hashlib.sha1(path.encode()).hexdigest()}
        return None


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)


class HfHubServer(LoopbackServer):
    name = "hfhub"

    def reset(self) -> None:
        with self._lock:
            self.repos: dict[str, Repo] = {}
            self.requests: list[Call] = []

    # -- test-facing ----------------------------------------------------------------------------
    def publish(self, repo_id: str, splits: dict[str, list[dict]]) -> Repo:
        """A dataset repo with one parquet file per split, replacing any earlier one."""
        files = {"README.md": dataset_card(splits)}
        files.update({f"data/{s}-00000-of-00001.parquet": parquet(rows) for s, rows in splits.items()})
        with self._lock:
            repo = self.repos[repo_id] = Repo(files)
        return repo

    def downloads(self) -> list[str]:
        """Paths of every file body served (GET .../resolve/...), in order."""
        with self._lock:
            return [c.path for c in self.requests if c.method == "GET" and "/resolve/" in c.path]

    # -- serving --------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query)
        length = int(h.headers.get("Content-Length") or 0)
        if length:
            query.update(parse_qs(h.rfile.read(length).decode()))
        with self._lock:
            self.requests.append(Call(h.command, path, query))
        if path == "/api/agent-harnesses":
            return self._json(h, 200, {"standardEnvVars": [], "harnesses": {}})
        if m := re.fullmatch(r"/datasets/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
            return self._resolve(h, *m.groups())
        if m := re.fullmatch(r"/api/datasets/([^/]+/[^/]+)(?:/revision/([^/]+))?", path):
            return self._with_repo(h, m[1], m[2] or "main", lambda repo: self._info(h, m[1], repo))
        if m := re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/tree/([^/]+)(?:/(.*))?", path):
            recursive = query.get("recursive", ["False"])[0].lower() == "true"
            return self._with_repo(h, m[1], m[2], lambda repo: self._tree(h, repo, m[3] or "", recursive))
        if m := re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/paths-info/([^/]+)", path):
            entries = query.get("paths", [])
            return self._with_repo(h, m[1], m[2], lambda repo: self._json(
                h, 200, [e for e in map(repo.entry, entries) if e is not None]))
        self._json(h, 404, {"error": "Not Found"})

    def _repo(self, repo_id: str, revision: str) -> tuple[Repo | None, str | None]:
        with self._lock:
            repo = self.repos.get(repo_id)
        if repo is None:
            return None, "RepoNotFound"
        if revision not in ("main", repo.sha):
            return None, "RevisionNotFound"
        return repo, None

    def _with_repo(self, h: BaseHTTPRequestHandler, repo_id: str, revision: str, answer) -> None:
        repo, error = self._repo(repo_id, revision)
        if repo is None:
            return self._json(h, 404, {"error": error}, {"X-Error-Code": error})
        answer(repo)

    def _info(self, h: BaseHTTPRequestHandler, repo_id: str, repo: Repo) -> None:
        self._json(h, 200, {"_id": repo.sha[:24], "id": repo_id, "author": repo_id.split("/")[0],
                            "sha": repo.sha, "private": False, "gated": False, "disabled": False,
                            "downloads": 0, "likes": 0, "tags": [], "cardData": {},
                            "siblings": [{"rfilename": p} for p in sorted(repo.files)]})

    def _tree(self, h: BaseHTTPRequestHandler, repo: Repo, under: str, recursive: bool) -> None:
        under = under.strip("/")
        if under and under not in repo.folders():
            return self._json(h, 404, {"error": "EntryNotFound"}, {"X-Error-Code": "EntryNotFound"})
        prefix = f"{under}/" if under else ""
        names = sorted(repo.files.keys() | repo.folders())
        inside = [p for p in names if p.startswith(prefix) and (recursive or "/" not in p[len(prefix):])]
        self._json(h, 200, [repo.entry(p) for p in inside])

    def _resolve(self, h: BaseHTTPRequestHandler, repo_id: str, revision: str, file: str) -> None:
        repo, error = self._repo(repo_id, revision)
        if repo is not None and file not in repo.files:
            error = "EntryNotFound"
        if repo is None or error:
            headers = {"X-Error-Code": error, **({"X-Repo-Commit": repo.sha} if repo else {})}
            return self._json(h, 404, {"error": error}, headers)
        data = repo.files[file]
        self._send(h, 200, data, {"Content-Type": "application/octet-stream", "ETag": f'"{blob_id(data)}"',
                                  "X-Repo-Commit": repo.sha})

    def _json(self, h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict | None = None) -> None:
        self._send(h, status, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})})

    def _send(self, h: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict) -> None:
        try:
            h.send_response(status)
            for name, value in headers.items():
                h.send_header(name, value)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


class SilentHost:
    """A Hub host that takes TCP connections and never answers HTTP: each connection is
    dropped at once (`drop`) or held unanswered until `stop` (a host that hangs). It counts
    connections, so that a test sees whether a client retried."""

    def __init__(self, drop: bool) -> None:
        self.connections = 0
        self._count = threading.Lock()
        self._release = threading.Event()
        host = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with host._count:
                    host.connections += 1
                if not drop:
                    host._release.wait()

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="silent-hub", daemon=True).start()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def hf_hub_session():
    server = HfHubServer().start()
    yield server
    server.stop()


@pytest.fixture
def hf_hub(hf_hub_session) -> HfHubServer:
    """A reset Hub publishing Lite (test: the suite's four instances; dev: the first one)."""
    hf_hub_session.reset()
    rows = lite_rows()
    hf_hub_session.publish(LITE, {"dev": rows[:1], "test": rows})
    return hf_hub_session


@pytest.fixture
def hf_env(workspace, hf_hub, tmp_path, monkeypatch) -> dict[str, str]:
    """This process and its children use the fake Hub and a private Hugging Face cache."""
    env = {"HF_ENDPOINT": hf_hub.root, "HF_HOME": str(tmp_path / "hf-home")}
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    return env
