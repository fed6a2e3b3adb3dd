"""The graph's side of code context: where the repository comes from, and apply checks.

The repository at the base commit is read from the instance image (`/testbed`) when a
Docker engine can run it, else fetched from its git remote; where neither works the
prompt falls back to the problem statement, said once. Patches are checked with
`git apply --check` in a short-lived container of the same image.
"""

from __future__ import annotations

import io
import shlex
import json
import tarfile
import threading
from pathlib import Path

from swebench_tasks.errors import SwebenchError
from swebench_tasks.files import write_atomic

_said_fallback = threading.Event()


def context_task(graph, row: dict, path: Path, tokens: int) -> dict:
    """`context:<id>`: current while its cached context was fitted to this token budget."""
    iid = row["instance_id"]
    deps = [f"image:{iid}"] if graph.uses_docker else []

    def current() -> bool:
        try:
            return json.loads(path.read_text()).get("budget_tokens") == tokens
        except (OSError, ValueError):
            return False

    return {"name": iid, "actions": [graph.guard(lambda: build(graph, row, path, tokens))],
            "targets": [path], "uptodate": [current], "task_dep": deps, "verbosity": 2}


def budget(graph) -> int:
    """A share of the model's context window (from the catalog when it says)."""
    from swebench_tasks.context import budget_for

    info = graph.model_info()
    return budget_for(graph.settings.model or "", info.context_length if info else None)


def build(graph, row: dict, path: Path, budget_tokens: int) -> None:
    """Retrieve and cache one instance's context; a statement-only marker if no repo is reachable."""
    from swebench_tasks.context import retrieve

    files = read_repository(graph, row)
    if files is None:
        if not _said_fallback.is_set():
            _said_fallback.set()
            graph.progress.note("No Docker engine or git remote reachable for the repository: "
                                "prompting with the problem statement only.")
        data = {"strategy": "statement", "budget_tokens": budget_tokens, "files": []}
    else:
        data = json.loads(retrieve(row, files, budget_tokens).to_json())
        data["budget_tokens"] = budget_tokens
    write_atomic(path, json.dumps(data))


def read_repository(graph, row: dict) -> dict[str, str] | None:
    from swebench_tasks.context import read_repo_from_git, read_repo_from_image

    if graph.uses_docker or engine_available():
        try:
            return read_repo_from_image(row["image"])
        except Exception:  # engine down, image missing: try the git remote next
            pass
    try:
        return read_repo_from_git(row["repo"], row["base_commit"], graph.paths.state / "repos")
    except Exception:
        return None


def engine_available() -> bool:
    from swebench_tasks.images import engine_reachable

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
    from swebench_tasks.images import is_present

    if not is_present(row["image"]):
        return None
    return lambda diff: check_in_image(row["image"], diff)


def check_in_image(image: str, diff: str) -> tuple[bool, str, str]:
    """(applies, git's error, patch): a refused patch is repaired once more with the real file texts."""
    import docker

    from swebench_tasks.diffs import apply_check_command, repair_diff, touched_paths

    client = docker.from_env()
    container = None
    check = shlex.join(apply_check_command("/testbed")) + " < /tmp/swebench_check.diff"

    def attempt(patch: str) -> tuple[bool, str]:
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
        repaired = repair_diff(diff, files) if files else diff
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
