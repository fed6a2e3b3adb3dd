"""The stages composed into one doit graph, and doit run on it in-process.

    dataset -> image:<id> -> context:<id> -> generate:<id> -> predictions -> evaluate -> report
               repo:<name> --^  (without Docker: one git fetch per repository)
               catalog:<provider> ----------------^                          ^
               preflight (system, key, image, smoke) ------------------------/

Every stage is one module with `tasks(ctx)`; the stages after the dataset are created once
it is cached, so that per-instance tasks can depend on each other by name.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from swebench_tasks.errors import SwebenchError
from swebench_tasks.stages.runcontext import RunContext, RunRecord

# Stage modules whose tasks exist before the dataset is cached.
EARLY = ("dataset", "catalog", "preflight")
# Stage modules whose tasks are created from the cached selection, with the basenames each creates.
PIPELINE = {
    "images": ("image",),
    "context": ("repo", "context"),
    "generate": ("generate",),
    "evaluate": ("predictions", "evaluate"),
    "report": ("report",),
}


def _stage(name: str):
    return importlib.import_module(f"swebench_tasks.stages.{name}")


def doit_config(ctx: RunContext) -> dict:
    s = ctx.settings
    ctx.paths.state.mkdir(parents=True, exist_ok=True)
    return {
        "backend": "sqlite3",
        "dep_file": str(ctx.paths.doit_db),
        "default_tasks": ["report"],
        "verbosity": 2,
        "num_process": s.max_workers,
        "par_type": "thread",
    }


def namespace(ctx: RunContext) -> dict:
    """task_* creators for doit's loader; per-instance tasks appear once the dataset is cached."""
    from doit import create_after

    def creator(name: str) -> Callable[[], Iterator[dict]]:
        return lambda: _stage(name).tasks(ctx)

    ns: dict[str, Any] = {f"task_{name}": ctx.guard_creator(creator(name)) for name in EARLY}

    def pipeline() -> Iterator[dict]:
        """A pipeline stage: image > repo > context > generate > predictions > evaluate > report."""
        for name in PIPELINE:
            yield from _stage(name).tasks(ctx)

    creates = [basename for names in PIPELINE.values() for basename in names]
    ns["task_pipeline"] = create_after(executed="dataset", creates=creates)(ctx.guard_creator(pipeline))
    ns["DOIT_CONFIG"] = doit_config(ctx)
    return ns


def make_reporter(ctx: RunContext, record: RunRecord):
    """A doit reporter class that feeds the progress bars and the run record, printing nothing."""

    class Reporter:
        def __init__(self, outstream, options):
            self.out = outstream

        def initialize(self, tasks, selected_tasks):
            pass

        def get_status(self, task):
            pass

        def execute_task(self, task):
            if task.name.startswith("generate:"):
                ctx.progress.stage("generate", len(ctx.selected_ids()), "Generating patches")

        def add_failure(self, task, fail):
            record.failed.append(task.name)
            if ctx.failure is None:
                message = fail.get_msg().strip()
                last = message.splitlines()[-1] if message else fail
                ctx.failure = SwebenchError(f"task {task.name} failed: {last}")

        def add_success(self, task):
            if task.actions:
                record.executed.append(task.name)
            if task.name.startswith("generate:"):
                ctx.progress.advance("generate", task.name.split(":", 1)[1])

        def skip_uptodate(self, task):
            if task.actions and task.name not in record.executed:
                record.up_to_date.append(task.name)
            if task.name.startswith("generate:"):
                ctx.progress.stage("generate", len(ctx.selected_ids()), "Generating patches")
                ctx.progress.advance("generate", task.name.split(":", 1)[1], quiet=True)

        def skip_ignore(self, task):
            pass

        def cleanup_error(self, exception):
            pass

        def runtime_error(self, msg):
            if ctx.failure is None:
                ctx.failure = SwebenchError(f"task graph error: {msg.strip().splitlines()[-1]}")

        def teardown_task(self, task):
            pass

        def complete_run(self):
            pass

    return Reporter


def run_graph(ctx: RunContext, argv: list[str] | None = None, reporter: bool = True) -> tuple[int, RunRecord]:
    """Run doit on the run's graph in-process; `argv` is a doit command line (default: run).

    With our reporter (the `swebench` fronts) doit's own messages are kept off the
    screen: a failure surfaces as the kept SwebenchError, else as one line naming a log.
    """
    import contextlib
    import io

    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    from swebench_tasks import harness

    record = ctx.record
    ns = namespace(ctx)
    doit_err = io.StringIO()
    if reporter:
        ns["DOIT_CONFIG"]["reporter"] = make_reporter(ctx, record)
        _ = ctx.ui.err, ctx.ui.console  # bind our consoles to the real streams before doit's are hidden
    try:
        with contextlib.redirect_stderr(doit_err) if reporter else contextlib.nullcontext():
            rc = DoitMain(ModuleTaskLoader(ns)).run(argv or [])
    except KeyboardInterrupt:  # Ctrl+C or SIGTERM reach this thread only, not the workers
        harness.stop_children()
        raise
    finally:
        for cleanup in ctx.cleanups.values():  # an interrupt leaves worker threads behind, not their containers
            cleanup()
    if not reporter:
        return rc, record
    if ctx.failure is not None:
        raise ctx.failure
    if rc != 0:
        log = ctx.paths.state / "doit-error.log"
        log.write_text(doit_err.getvalue())
        last = next((ln for ln in reversed(doit_err.getvalue().splitlines()) if ln.strip()), "no message")
        raise SwebenchError(f"the task graph failed: {last}", fix=f"see {log}")
    return rc, record


def ensure_dataset(ctx: RunContext) -> None:
    """Cache the dataset first, so the selection can be checked before any other work."""
    if not ctx.dataset_file.exists():
        run_graph(ctx, ["dataset"])


def dodo_namespace(workdir: Path | None = None) -> dict:
    """For `dodo.py` and `doit` in a checkout: the graph for the saved defaults."""
    from swebench_tasks.config import load_settings

    settings = load_settings(Path(workdir or os.getcwd()), no_input=True)
    return namespace(RunContext(settings))
