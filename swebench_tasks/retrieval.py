"""The graph's side of code context: where the repository comes from, and apply checks.

The repository at the base commit is read from the instance image (`/testbed`) when a
Docker engine can run it, else from its git remote: one `repo:<name>` task per repository
fetches every commit the selection still needs in one go, and the context tasks then read
them in parallel. A remote that fails is remembered for the run and said once; its
instances fall back to the problem statement at once. Patches are checked with
`git apply --check` in a short-lived container of the same image.
"""

from __future__ import annotations

import io
import json
import re
import shlex
import subprocess
import tarfile
import threading
from functools import cached_property
from pathlib import Path

from swebench_tasks.errors import SwebenchError
from swebench_tasks.files import write_atomic


def context_task(graph, row: dict, path: Path, tokens: int) -> dict:
    """`context:<id>`: current while its cached context was fitted to this token budget."""
    from swebench_tasks.context import repo_dir_name

    iid = row["instance_id"]
    deps = [f"image:{iid}"] if graph.uses_docker else [f"repo:{repo_dir_name(row['repo'])}"]
    return {
        "name": iid,
        "actions": [graph.guard(lambda: build(graph, row, path, tokens))],
        "targets": [path],
        "uptodate": [lambda: context_current(graph, path, tokens)],
        "task_dep": deps,
        "verbosity": 2,
    }


# `build` writes the budget first: the up-to-date check of a full selection reads a few bytes
# of each cached context (tens of kB of code), not all of it.
_BUDGET_HEAD = re.compile(rb'\{"budget_tokens": (\d+)[,}]')


def context_current(graph, path: Path, tokens: int) -> bool:
    """Whether the cached context was fitted to this token budget (read once per file version)."""

    def fitted(p: Path) -> bool:
        try:
            with open(p, "rb") as f:
                head = _BUDGET_HEAD.match(f.read(64))
            if head:
                return int(head.group(1)) == tokens
            return json.loads(p.read_text()).get("budget_tokens") == tokens
        except (OSError, ValueError):
            return False

    return graph.file_verdict(path, fitted)


def repo_tasks(graph, rows: list[dict], tokens: int):
    """`repo:<name>`: the commits of one repository that stale contexts need, in one fetch.

    Only where contexts are not read from pulled images (without Docker: sb-cli, generate-only).
    """
    from swebench_tasks.context import repo_dir_name

    by_repo: dict[str, list[dict]] = {}
    for row in rows:
        by_repo.setdefault(row["repo"], []).append(row)
    for repo, group in by_repo.items():

        def needed(repo=repo, group=group) -> list[dict]:
            stale = [r for r in group if not context_current(graph, graph.context_file(r["instance_id"]), tokens)]
            missing = set(graph.remotes.cache.missing(repo, [r["base_commit"] for r in stale])) if stale else set()
            return [r for r in stale if r["base_commit"] in missing]

        yield {
            "name": repo_dir_name(repo),
            "doc": f"fetch the commits of {repo} that contexts need",
            "actions": [graph.guard(lambda repo=repo, needed=needed: graph.remotes.prefetch(repo, needed()))],
            "uptodate": [lambda needed=needed: not needed()],
            "verbosity": 2,
        }


class Remotes:
    """The run's git remotes over the working directory's GitCache: fetched per repository,
    read in parallel, a failed remote remembered (and said once) for the rest of the run."""

    def __init__(self, graph):
        from swebench_tasks.context import GitCache

        self.graph = graph
        self.cache = GitCache(graph.paths.state / "repos")
        self.failed: dict[str, str] = {}  # repo -> why
        self.lost: set[tuple[str, str]] = set()  # (repo, commit) the remote did not give
        self._lock = threading.Lock()

    @cached_property
    def engine(self) -> bool:
        return engine_available()

    def prefetch(self, repo: str, rows: list[dict]) -> None:
        """Fetch the rows' commits, except where the engine has the instance's image to read."""
        if self.engine:
            from swebench_tasks.engine import is_present

            rows = [r for r in rows if not (r.get("image") and is_present(r["image"]))]
        if rows:
            self.fetch(repo, [r["base_commit"] for r in rows])

    def fetch(self, repo: str, commits: list[str]) -> None:
        if repo in self.failed:
            return
        try:
            lost = self.cache.fetch(repo, commits)
        except (SwebenchError, OSError, subprocess.SubprocessError) as exc:  # also: no git at all
            why = exc.message if isinstance(exc, SwebenchError) else f"could not fetch {repo}: {exc}"
            with self._lock:
                if repo in self.failed:
                    return
                self.failed[repo] = why
            self.graph.progress.note(
                f"{why.splitlines()[0]}: prompting {repo}'s instances with the problem statement only"
            )
            return
        with self._lock:
            self.lost.update((repo, c) for c in lost)

    def read(self, row: dict) -> dict[str, str] | None:
        """The repository at the row's base commit; None where the remote cannot give it."""
        repo, commit = row["repo"], row["base_commit"]
        try:
            if repo not in self.failed and (repo, commit) not in self.lost and self.cache.missing(repo, [commit]):
                self.fetch(repo, [commit])  # not prefetched: its image was to be read and was not
            if repo in self.failed or (repo, commit) in self.lost:
                return None
            return self.cache.read(repo, commit)
        except (SwebenchError, OSError, subprocess.SubprocessError):
            return None


def budget(graph) -> int:
    """A share of the model's context window (from the catalog when it says)."""
    from swebench_tasks.context import budget_for

    info = graph.model_info()
    return budget_for(graph.settings.model or "", info.context_length if info else None)


def build(graph, row: dict, path: Path, budget_tokens: int) -> None:
    """Retrieve and cache one instance's context; a statement-only marker if no repo is reachable."""
    from swebench_tasks.context import retrieve

    files = read_repository(graph, row)
    data: dict = {"budget_tokens": budget_tokens}  # first in the file: see context_current
    if files is None:
        data.update(strategy="statement", files=[])
    else:
        data.update(json.loads(retrieve(row, files, budget_tokens).to_json()), budget_tokens=budget_tokens)
    write_atomic(path, json.dumps(data))


def read_repository(graph, row: dict) -> dict[str, str] | None:
    from swebench_tasks.context import read_repo_from_image

    if graph.uses_docker or graph.remotes.engine:
        try:
            return read_repo_from_image(row["image"])
        except Exception:  # engine down, image missing: try the git remote next
            pass
    return graph.remotes.read(row)


def engine_available() -> bool:
    from swebench_tasks.engine import engine_reachable

    return engine_reachable()


def load(path: Path):
    """The cached Context, or None when the cache says statement-only."""
    from swebench_tasks.context import Context

    try:
        text = path.read_text()
    except OSError:
        return None
    if json.loads(text).get("strategy") == "statement":
        return None
    return Context.from_json(text)


def apply_checker(graph, row: dict):
    """A `git apply --check` inside the instance image, or None where no engine can run it."""
    if not graph.uses_docker or not row.get("image"):
        return None
    from swebench_tasks.engine import is_present

    if not is_present(row["image"]):
        return None
    return lambda diff: check_in_image(row["image"], diff)


def check_in_image(image: str, diff: str) -> tuple[bool, str, str]:
    """(applies, git's error, patch): a refused patch is repaired once more with the real file texts.

    Repair may refuse the patch (a hunk it cannot place): its reason joins git's error,
    which goes back to the model with the retry.
    """
    import docker

    from swebench_tasks.diffs import (
        NoUsableDiff,
        apply_check_command,
        patch_from_reply,
        touched_paths,
    )

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
