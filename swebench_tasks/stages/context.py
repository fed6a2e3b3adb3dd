"""Stages `repo:<name>` and `context:<id>`: code context for each instance's prompt.

The repository at the base commit is read from the instance image (`/testbed`) when a
Docker engine can run it, else from its git remote: one `repo:<name>` task per repository
fetches every commit the selection still needs in one go, and the context tasks then read
them in parallel. A remote that fails is remembered for the run and said once; its
instances fall back to the problem statement at once. The ranking itself is the
`retrieval` service's; the generate stage reads the file written here.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

from swebench_tasks.errors import SwebenchError
from swebench_tasks.stages.runcontext import RunContext, group


def tasks(ctx: RunContext) -> Iterator[dict]:
    remotes = not ctx.uses_docker and ctx.retrieves
    yield from group(
        "repo",
        "One git fetch per repository of the commits its stale contexts need (no Docker).",
        repo_tasks(ctx, ctx.rows(), budget(ctx)) if remotes else iter(()),
    )
    yield from group(
        "context",
        "Code context for each instance, retrieved from its repository at the base commit.",
        (context_task(ctx, row, budget(ctx)) for row in ctx.rows()) if ctx.retrieves else iter(()),
    )


def budget(ctx: RunContext) -> int:
    """Tokens of code per prompt: a share of the model's context window (from the catalog
    when it says); read once per run, for every instance."""
    from swebench_tasks.retrieval import budget_for

    def compute() -> int:
        info = ctx.model_info()
        return budget_for(ctx.settings.model or "", info.context_length if info else None)

    return ctx.kept("context budget", compute)


def context_task(ctx: RunContext, row: dict, tokens: int) -> dict:
    """`context:<id>`: current while its cached context was fitted to this token budget."""
    from swebench_tasks.retrieval import repo_dir_name

    iid = row["instance_id"]
    path = ctx.context_file(iid)
    deps = [f"image:{iid}"] if ctx.uses_docker else [f"repo:{repo_dir_name(row['repo'])}"]
    return {
        "name": iid,
        "actions": [ctx.action(build, row, path, tokens)],
        "targets": [path],
        "uptodate": [lambda: context_current(ctx, path, tokens)],
        "task_dep": deps,
        "verbosity": 2,
    }


def context_current(ctx: RunContext, path: Path, tokens: int) -> bool:
    """Whether the cached context was fitted to this token budget (read once per file version)."""
    from swebench_tasks.retrieval import cached_budget

    return ctx.file_verdict(path, lambda p: cached_budget(p) == tokens)


def repo_tasks(ctx: RunContext, rows: list[dict], tokens: int) -> Iterator[dict]:
    """`repo:<name>`: the commits of one repository that stale contexts need, in one fetch.

    Only where contexts are not read from pulled images (without Docker: sb-cli, generate-only).
    """
    from swebench_tasks.retrieval import repo_dir_name

    remotes = _remotes(ctx)
    by_repo: dict[str, list[dict]] = {}
    for row in rows:
        by_repo.setdefault(row["repo"], []).append(row)
    for repo, rows_of_repo in by_repo.items():

        def needed(repo=repo, group=rows_of_repo) -> list[dict]:
            stale = [r for r in group if not context_current(ctx, ctx.context_file(r["instance_id"]), tokens)]
            missing = set(remotes.cache.missing(repo, [r["base_commit"] for r in stale])) if stale else set()
            return [r for r in stale if r["base_commit"] in missing]

        def prefetch(ctx: RunContext, repo: str, needed=needed) -> None:
            remotes.prefetch(repo, needed())

        yield {
            "name": repo_dir_name(repo),
            "doc": f"fetch the commits of {repo} that contexts need",
            "actions": [ctx.action(prefetch, repo)],
            "uptodate": [lambda needed=needed: not needed()],
            "verbosity": 2,
        }


class Remotes:
    """The run's git remotes over the working directory's GitCache: fetched per repository,
    read in parallel, a failed remote remembered (and said once) for the rest of the run."""

    def __init__(self, ctx: RunContext):
        from swebench_tasks.retrieval import GitCache

        self.ctx = ctx
        self.cache = GitCache(ctx.paths.state / "repos")
        self.failed: dict[str, str] = {}  # repo -> why
        self.lost: set[tuple[str, str]] = set()  # (repo, commit) the remote did not give
        self._lock = threading.Lock()

    @cached_property
    def engine(self) -> bool:
        from swebench_tasks.engine import engine_reachable

        return engine_reachable()

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
            self.ctx.progress.note(
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


def _remotes(ctx: RunContext) -> Remotes:
    """One Remotes per run, shared by its repo and context tasks."""
    return ctx.kept("git remotes", lambda: Remotes(ctx))


def build(ctx: RunContext, row: dict, path: Path, budget_tokens: int) -> None:
    """Retrieve and cache one instance's context; a statement-only marker if no repo is reachable."""
    from swebench_tasks.retrieval import retrieve, write_context

    files = read_repository(ctx, row)
    write_context(path, budget_tokens, None if files is None else retrieve(row, files, budget_tokens))


def read_repository(ctx: RunContext, row: dict) -> dict[str, str] | None:
    from swebench_tasks.retrieval import read_repo_from_image

    remotes = _remotes(ctx)
    if ctx.uses_docker or remotes.engine:
        try:
            return read_repo_from_image(row["image"])
        except Exception:  # engine down, image missing: try the git remote next
            pass
    return remotes.read(row)
