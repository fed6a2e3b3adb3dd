"""The doit task graph: the spine of the product.

    dataset -> image:<id> -> context:<id> -> generate:<id> -> predictions -> evaluate -> report
               repo:<name> --^  (without Docker: one git fetch per repository)
               catalog:<provider> ----------------^                          ^
               preflight (system, key, image, smoke) ------------------------/

Every step is a doit task with targets on disk, so a repeated run executes only what
is stale. The CLI, `dodo.py` and the wizard build a Graph from Settings and run it;
actions close over the Graph, and any SwebenchError they raise is kept so the front
can exit with its code and one line.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import threading
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from swebench_tasks import datasets, harness
from swebench_tasks.config import Settings, load_settings
from swebench_tasks.errors import SwebenchError, UsageError
from swebench_tasks.files import safe_name
from swebench_tasks.generate import GenerationRecord, generation_key, is_current, record_path
from swebench_tasks.report import Prediction
from swebench_tasks.ui import RunProgress, Ui

if TYPE_CHECKING:
    from swebench_tasks.agent_tasks import AgentRunState
    from swebench_tasks.providers import Provider

CATALOG_TTL_SECONDS = 24 * 3600

# The basenames of the tasks created once the dataset is cached, in pipeline order.
STAGES = ("image", "repo", "context", "generate", "predictions", "evaluate", "report")


class Graph:
    """The tasks for one selection. Built cheaply; nothing heavy is imported until a task runs."""

    def __init__(
        self, settings: Settings, ui: Ui | None = None, progress: RunProgress | None = None, key: str | None = None
    ):
        self.settings = settings
        self.ui = ui or Ui(no_input=True)
        self.progress = progress or RunProgress(self.ui)
        self.key = key
        self.service_key: str | None = None  # SWEBENCH_API_KEY for --backend sb-cli, set like `key`
        self.failure: SwebenchError | None = None
        self.record = RunRecord()  # accumulates over every doit invocation on this graph
        self._provider: Provider | None = None
        self._lock = threading.Lock()
        self.agent_state: AgentRunState | None = None  # agent mode: what one invocation's instances share
        self._record_files: dict[str, Path] = {}
        self._verdicts: dict[Path, tuple[tuple[int, int, int], bool]] = {}

    # -- where things are -------------------------------------------------------------

    @property
    def paths(self):
        return self.settings.paths

    @property
    def run_id(self) -> str:
        return self.settings.effective_run_id

    @cached_property
    def dataset_file(self) -> Path:
        s = self.settings
        return datasets.cache_path(self.paths.state, s.dataset, s.split, s.workdir)

    @property
    def run_dir(self) -> Path:
        return self.paths.runs / self.run_id

    @property
    def predictions_file(self) -> Path:
        """Under results/, where a user generating for another harness (or sb-cli) finds it."""
        return self.results_dir / "predictions.jsonl"

    @property
    def harness_report(self) -> Path:
        return harness.summary_report_path(self.paths.reports, self.settings.model_name, self.run_id)

    @property
    def results_dir(self) -> Path:
        return self.paths.results / self.run_id

    @property
    def summary_file(self) -> Path:
        return self.results_dir / "summary.json"

    @property
    def prompt_version(self) -> str:
        from swebench_tasks.prompt import PROMPT_VERSION

        return PROMPT_VERSION

    @cached_property
    def generation_key(self) -> str:
        s = self.settings
        if self.agent_mode:
            from swebench_tasks.agent_tasks import agent_key

            return agent_key(s)
        return generation_key(s.provider or "", s.model or "", self.prompt_version, s.context)

    @cached_property
    def _generations_dir(self) -> Path:
        return self.paths.state / "agent" if self.agent_mode else self.paths.generations

    def record_file(self, instance_id: str) -> Path:
        """Built once per instance: a full selection asks for each several times."""
        path = self._record_files.get(instance_id)
        if path is None:
            s = self.settings
            path = self._record_files[instance_id] = record_path(
                self._generations_dir, s.provider or "", s.model or "", instance_id
            )
        return path

    @property
    def agent_mode(self) -> bool:
        """An agent makes the patches (SPEC.md, Agent mode); gold and given patches need none."""
        return self.settings.agent != "none" and self.settings.needs_provider

    def file_verdict(self, path: Path, judge: Callable[[Path], bool]) -> bool:
        """judge(path), once per version of the file (a rewrite changes inode or mtime): the run's
        pre-checks and doit's up-to-date checks ask about the same files. False if it is absent."""
        try:
            st = path.stat()
        except OSError:
            return False
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        known = self._verdicts.get(path)
        if known is None or known[0] != stamp:
            known = self._verdicts[path] = (stamp, judge(path))
        return known[1]

    def generation_current(self, instance_id: str) -> bool:
        return self.file_verdict(self.record_file(instance_id), lambda p: is_current(p, self.generation_key))

    # -- the selection ----------------------------------------------------------------

    @cached_property
    def _rows(self) -> list[dict]:
        s = self.settings
        rows = datasets.load_cached(self.dataset_file)
        if s.predictions:
            given = set(self.given_predictions())
            rows = [r for r in rows if r["instance_id"] in given]
        return datasets.select(rows, s.count, s.instance_ids)

    def rows(self) -> list[dict]:
        """The selected dataset rows; [] until the dataset task has cached the dataset."""
        return self._rows if self.dataset_file.exists() else []

    def ensure_dataset(self) -> None:
        """Cache the dataset first, so the selection can be checked before any other work."""
        if not self.dataset_file.exists():
            run_graph(self, ["dataset"])

    @cached_property
    def _selected_ids(self) -> list[str]:
        return [r["instance_id"] for r in self._rows]

    def selected_ids(self) -> list[str]:
        """Built once per graph: the reporter and several tasks ask for it."""
        return self._selected_ids if self.dataset_file.exists() else []

    def given_predictions(self) -> dict[str, str]:
        """`--predictions FILE`: instance id -> patch, validated."""
        assert self.settings.predictions is not None, "called only with --predictions"
        path = Path(self.settings.predictions)
        rows = datasets.read_local(path)
        out = {}
        for i, row in enumerate(rows):
            if not isinstance(row, dict) or not isinstance(row.get("instance_id"), str) or "model_patch" not in row:
                raise UsageError(
                    f"predictions file {path}: row {i} lacks instance_id or model_patch",
                    fix="each row needs instance_id, model_name_or_path, model_patch",
                )
            out[row["instance_id"]] = row["model_patch"] or ""
        return out

    def stale_generations(self) -> list[str] | None:
        """Instances whose patch must be (re)generated; None while the dataset is not cached."""
        if not self.settings.needs_provider:
            return []
        if not self.dataset_file.exists():
            return None
        return [i for i in self.selected_ids() if not self.generation_current(i)]

    def previous_summary(self) -> dict | None:
        try:
            return json.loads(self.summary_file.read_text())
        except (OSError, ValueError):
            return None

    def prepare_rerun_failed(self) -> list[str]:
        """Forget the verdicts (and, with a provider, the patches) of what did not resolve."""
        previous = self.previous_summary()
        if previous is None:
            raise UsageError(f"no earlier run {self.run_id} to rerun", fix="run `swebench run` first, or pass --run-id")
        if previous.get("evaluation") == "skipped":  # --generate-only: what failed is what errored
            failed_set = set(previous.get("error_ids", []))
            failed = [i for i in self.selected_ids() if i in failed_set]
        else:
            resolved = set(previous.get("resolved_ids", []))
            failed = [i for i in self.selected_ids() if i not in resolved]
        for iid in failed:
            if self.settings.needs_provider:
                self.record_file(iid).unlink(missing_ok=True)
            shutil.rmtree(self.instance_logs(iid), ignore_errors=True)
        return failed

    def instance_logs(self, instance_id: str) -> Path:
        return harness.instance_log_dir(self.paths.harness_logs, self.run_id, self.settings.model_name, instance_id)

    # -- running actions --------------------------------------------------------------

    def guard(self, func: Callable[[], object]) -> Callable[[], object]:
        """Wrap an action: a SwebenchError is kept for the front and fails the task quietly."""
        from doit.exceptions import TaskFailed

        def action():
            if self.failure is not None:
                return TaskFailed("an earlier task failed")
            try:
                result = func()
                return None if result is None or isinstance(result, dict) else result
            except SwebenchError as exc:
                with self._lock:
                    self.failure = self.failure or exc
                return TaskFailed(exc.line())

        action.__name__ = getattr(func, "__name__", "action")
        action.__doc__ = func.__doc__
        return action

    def guard_creator(self, creator):
        """A task creator whose SwebenchError is kept for the front (doit then stops quietly)."""
        import functools
        import inspect

        from doit.exceptions import InvalidTask

        def keep(exc: SwebenchError) -> InvalidTask:
            self.failure = self.failure or exc
            return InvalidTask(exc.line())

        if inspect.isgeneratorfunction(creator):

            @functools.wraps(creator)
            def generate():
                try:
                    yield from creator()
                except SwebenchError as exc:
                    raise keep(exc) from None

            return generate

        @functools.wraps(creator)
        def create():
            try:
                return creator()
            except SwebenchError as exc:
                raise keep(exc) from None

        return create

    def run_key(self) -> str | None:
        """The key the run uses: the one a front resolved, else the stored one, found without
        prompting (environment, keychain, `.env` pointer): `swebench doit` and `dodo.py` have no
        front to resolve it, and stale generations there need it all the same."""
        if self.key is None and self.settings.needs_provider:
            from swebench_tasks import keys, profiles

            provider = self.settings.chosen_provider()
            profile = self.settings.profile or profiles.active_profile(provider)
            self.key = keys.resolve_key(provider, profile=profile, workdir=self.settings.workdir)
        return self.key

    def provider(self):
        with self._lock:
            if self._provider is None:
                from swebench_tasks.keys import key_fix
                from swebench_tasks.providers import get_provider

                self._provider = get_provider(
                    self.settings.chosen_provider(),
                    key=self.run_key(),
                    on_wait=self.waiter("provider"),
                    key_fix=key_fix,
                )
            return self._provider

    def waiter(self, stage: str):
        """Provider waits shown on `stage`'s bar (or as a line), whichever progress is live then."""
        return lambda seconds, why: self.progress.wait(stage, seconds, why)

    # -- the graph ----------------------------------------------------------------------

    def doit_config(self) -> dict:
        s = self.settings
        self.paths.state.mkdir(parents=True, exist_ok=True)
        return {
            "backend": "sqlite3",
            "dep_file": str(self.paths.doit_db),
            "default_tasks": ["report"],
            "verbosity": 2,
            "num_process": s.max_workers,
            "par_type": "thread",
        }

    def namespace(self) -> dict:
        """task_* creators for doit's loader; per-instance tasks appear once the dataset is cached."""
        from doit import create_after

        g, s = self, self.settings

        def task_dataset():
            """Fetch the dataset once and cache it as JSONL under .swebench/."""
            task = {
                "actions": [g.guard(g.fetch_dataset)],
                "targets": [g.dataset_file],
                "uptodate": [True],
                "verbosity": 2,
            }
            if datasets.is_local(s.dataset):
                task["file_dep"] = [datasets.resolve(s.dataset, s.workdir)]
                task.pop("uptodate")
            return task

        def task_catalog():
            """The provider's live model list (context sizes, prices), cached for a day."""
            from swebench_tasks.catalog import catalog_age

            yield {"name": None, "doc": task_catalog.__doc__}
            if s.needs_provider and s.provider:
                path = g.catalog_file

                def fresh() -> bool:
                    age = catalog_age(path)
                    return age is not None and age < CATALOG_TTL_SECONDS

                yield {
                    "name": s.provider,
                    "actions": [g.guard(g.fetch_catalog)],
                    "targets": [path],
                    "uptodate": [fresh],
                    "verbosity": 2,
                }

        def task_preflight():
            """System checks, key validation, one image pull, one-instance smoke."""
            from swebench_tasks import preflight

            yield {"name": None, "doc": task_preflight.__doc__}
            yield from preflight.tasks(g)

        def image():
            """Each selected instance's image, pulled (with registry fix-ups) unless present."""
            from swebench_tasks import engine, images

            if g.uses_docker or g.agent_mode:
                tags = engine.local_tags()
                for row in g.rows():
                    yield images.image_task(g, row, tags)

        def repo():
            """One git fetch per repository of the commits its stale contexts need (no Docker)."""
            if s.needs_provider and s.context == "retrieval" and not g.uses_docker and not g.agent_mode:
                from swebench_tasks import retrieval

                yield from retrieval.repo_tasks(g, g.rows(), g.context_budget)

        def context():
            """Code context for each instance, retrieved from its repository at the base commit."""
            if s.needs_provider and s.context == "retrieval" and not g.agent_mode:
                from swebench_tasks import retrieval

                for row in g.rows():
                    yield retrieval.context_task(g, row, g.context_file(row["instance_id"]), g.context_budget)

        def generate():
            """One model call per instance; the patch is kept until provider, model or prompt change."""
            if g.agent_mode:
                from swebench_tasks.agent_tasks import AgentRunState, agent_task

                g.agent_state = AgentRunState()  # shared by this invocation's instances
                key = g.generation_key
                for row in g.rows():
                    path = g.record_file(row["instance_id"])
                    yield agent_task(g, row, path, key, [f"catalog:{s.provider}", f"image:{row['instance_id']}"])
            elif s.needs_provider:
                for row in g.rows():
                    iid = row["instance_id"]
                    path = g.record_file(iid)
                    deps = [f"catalog:{s.provider}"] + ([f"context:{iid}"] if s.context == "retrieval" else [])
                    yield {
                        "name": iid,
                        "actions": [g.guard(functools.partial(g.generate, row, path))],
                        "targets": [path],
                        "uptodate": [lambda iid=iid: g.generation_current(iid)],
                        "task_dep": deps,
                        "verbosity": 2,
                    }

        def predictions():
            """The harness's predictions JSONL for the selection, written atomically."""
            from doit.tools import config_changed

            yield {
                "actions": [g.guard(g.write_predictions)],
                "file_dep": g.prediction_sources(),
                "targets": [g.predictions_file],
                "task_dep": ["generate"],
                "verbosity": 2,
                "uptodate": [config_changed({"ids": g.selected_ids(), "model": s.model_name})],
            }

        def evaluate():
            """The official harness on the predictions (instances already judged are skipped)."""
            from doit.tools import config_changed

            deps = ["predictions"] + (["preflight"] if s.preflight else []) + (["image"] if g.uses_docker else [])
            yield {
                "actions": [g.guard(g.evaluate)],
                "file_dep": [g.predictions_file, g.dataset_file],
                "targets": [g.harness_report],
                "task_dep": deps,
                "verbosity": 2,
                "uptodate": [config_changed({"ids": g.selected_ids(), "backend": s.backend}), not s.rerun_failed],
            }

        def report():
            """The run summary and per-instance artifacts under results/<run_id>/."""
            from doit.tools import config_changed

            deps = [g.predictions_file] + ([] if s.generate_only else [g.harness_report])
            yield {
                "actions": [g.guard(g.write_report)],
                "file_dep": deps,
                "targets": [g.summary_file],
                "task_dep": ["predictions" if s.generate_only else "evaluate"],
                "uptodate": [config_changed({"ids": g.selected_ids()})],
                "verbosity": 2,
            }

        def task_pipeline():
            """A pipeline stage: image > repo > context > generate > predictions > evaluate > report."""
            # All stages come from one creator, run once the dataset is cached, so that
            # per-instance tasks can depend on each other by name (generate:x on context:x).
            for stage in (image, repo, context, generate, predictions, evaluate, report):
                assert stage.__name__ in STAGES
                tasks = list(stage())
                if stage in (image, repo, context, generate):  # groups: `doit image` runs every instance
                    yield {"basename": stage.__name__, "name": None, "doc": stage.__doc__}
                    tasks = [{**t, "basename": stage.__name__} for t in tasks]
                else:
                    tasks = [{**t, "basename": stage.__name__, "doc": stage.__doc__} for t in tasks]
                yield from tasks

        ns = {
            "task_dataset": g.guard_creator(task_dataset),
            "task_preflight": g.guard_creator(task_preflight),
            "task_catalog": g.guard_creator(task_catalog),
            "task_pipeline": create_after(executed="dataset", creates=list(STAGES))(g.guard_creator(task_pipeline)),
        }
        ns["DOIT_CONFIG"] = self.doit_config()
        return ns

    @property
    def uses_docker(self) -> bool:
        s = self.settings
        return s.backend == "local" and not s.generate_only

    @property
    def uses_harness(self) -> bool:
        """Evaluation by the official harness from this machine (on Docker, or its Modal path)."""
        s = self.settings
        return s.backend in ("local", "modal") and not s.generate_only

    def check_evaluable(self) -> None:
        """Refuse a selection the harness cannot take, before any work (datasets.check_evaluable)."""
        if self.uses_harness:
            datasets.check_evaluable(self.rows())

    # -- actions ------------------------------------------------------------------------

    def fetch_dataset(self) -> None:
        s = self.settings
        self.progress.note(f"Fetching dataset {s.dataset} ({s.split})...")
        count = datasets.fetch(s.dataset, s.split, s.workdir, self.dataset_file)
        self.progress.note(f"Cached {count} rows at {self.dataset_file}")

    @property
    def catalog_file(self) -> Path:
        return self.paths.catalog / f"{self.settings.provider}.json"

    def fetch_catalog(self) -> None:
        """Refresh the model list; skipped when this run resolved no key (nothing to generate)."""
        from swebench_tasks.catalog import fetch_catalog
        from swebench_tasks.providers import info

        if self.key is None and not info(self.settings.provider).public_catalog:
            return
        fetch_catalog(self.settings.chosen_provider(), self.key, self.catalog_file, on_wait=self.waiter("catalog"))

    def model_info(self):
        """The catalog's entry for the selected model (context size, prices), if known."""
        from swebench_tasks.catalog import read_catalog

        models = read_catalog(self.catalog_file) or []
        return next((m for m in models if m.id == self.settings.model), None)

    def context_file(self, instance_id: str) -> Path:
        return self.paths.contexts / f"{safe_name(instance_id)}.json"

    @cached_property
    def context_budget(self) -> int:
        """Tokens of code per prompt: one catalog read for all instances."""
        from swebench_tasks import retrieval

        return retrieval.budget(self)

    @cached_property
    def remotes(self):
        """The run's git remotes (retrieval without Docker)."""
        from swebench_tasks.retrieval import Remotes

        return Remotes(self)

    def generate(self, row: dict, path: Path) -> None:
        from swebench_tasks import retrieval
        from swebench_tasks.generate import generate_one
        from swebench_tasks.prompt import build_messages

        s = self.settings
        context = retrieval.load(self.context_file(row["instance_id"])) if s.context == "retrieval" else None
        record = generate_one(
            row,
            provider=self.provider(),
            model=s.chosen_model(),
            key=self.generation_key,
            messages=build_messages(
                row, context, "statement" if s.context == "retrieval" and context is None else s.context
            ),
            context_mode=s.context,
            prompt_version=self.prompt_version,
            on_wait=self.waiter("generate"),
            check_apply=retrieval.apply_checker(self, row),
            model_info=self.model_info(),
        )
        record.write(path)

    def prediction_sources(self) -> list[Path]:
        s = self.settings
        if s.gold:
            return [self.dataset_file]
        if s.predictions:
            return [Path(s.predictions).resolve(), self.dataset_file]
        return [self.record_file(i) for i in self.selected_ids()]

    def predictions(self) -> dict[str, Prediction]:
        """The selection's patches with their token counts, from wherever they come from."""
        s = self.settings
        if s.gold:
            return {r["instance_id"]: Prediction(r["instance_id"], r.get("patch") or "") for r in self.rows()}
        if s.predictions:
            given = self.given_predictions()
            return {i: Prediction(i, given.get(i, "")) for i in self.selected_ids()}
        out = {}
        for iid in self.selected_ids():
            rec = GenerationRecord.read(self.record_file(iid))
            if rec is not None:
                out[iid] = Prediction(
                    iid, rec.prediction, rec.input_tokens, rec.output_tokens, rec.cost_usd, rec.applied, rec.error
                )
        return out

    def write_predictions(self) -> None:
        name = self.settings.model_name
        rows = [
            {"instance_id": p.instance_id, "model_name_or_path": name, "model_patch": p.patch}
            for p in self.predictions().values()
            if not p.error
        ]
        datasets.write_jsonl(self.predictions_file, rows)

    def evaluate(self) -> None:
        from swebench_tasks import backends

        backends.evaluate(self)

    def run_harness(
        self,
        *,
        dataset: Path,
        predictions: Path,
        instance_ids: list[str],
        run_id: str,
        model_name: str,
        stage: str,
        label: str,
        empty_ids: AbstractSet[str] = frozenset(),
        modal: bool = False,
    ) -> harness.EvalResults:
        """Run the local harness and read its results; shared by evaluate and the smoke test."""
        from swebench_tasks.images import emulated_platform

        s = self.settings
        wanted = set(instance_ids)
        datasets.check_evaluable([r for r in self.rows() if r["instance_id"] in wanted])
        flags = harness.accepted_flags(s.harness_python)
        cmd = harness.build_command(
            python=s.harness_python,
            flags=flags,
            dataset=str(dataset),
            split=s.split,
            predictions=predictions,
            instance_ids=instance_ids,
            max_workers=s.max_workers,
            timeout=s.timeout,
            run_id=run_id,
            report_dir=self.paths.reports,
            namespace=s.docker_namespace if "--namespace" in flags else None,
            modal=modal,
        )
        watched = [i for i in instance_ids if i not in empty_ids]
        self.progress.stage(stage, len(watched), label)
        harness.run(
            cmd,
            cwd=s.workdir,
            log_path=self.paths.runs / run_id / "harness.log",
            logs_root=self.paths.harness_logs,
            run_id=run_id,
            model_name=model_name,
            instance_ids=watched,
            on_progress=lambda done, total: self.progress.set(stage, done),
            platform=emulated_platform(self),
        )
        return harness.read_results(
            report_dir=self.paths.reports,
            logs_root=self.paths.harness_logs,
            model_name=model_name,
            run_id=run_id,
            instance_ids=instance_ids,
            empty_ids=set(empty_ids),
        )

    def drop_stale_verdicts(self, predictions: dict[str, Prediction]) -> None:
        """The harness skips an instance with a report.json: forget those judged on another patch."""
        for iid, pred in predictions.items():
            logs = self.instance_logs(iid)
            judged = logs / "patch.diff"
            if judged.exists() and judged.read_text() != pred.patch:
                shutil.rmtree(logs, ignore_errors=True)

    def eval_results(self) -> harness.EvalResults:
        preds = self.predictions()
        return harness.read_results(
            report_dir=self.paths.reports,
            logs_root=self.paths.harness_logs,
            model_name=self.settings.model_name,
            run_id=self.run_id,
            instance_ids=self.selected_ids(),
            empty_ids={i for i, p in preds.items() if not p.patch.strip()},
        )

    def write_report(self) -> None:
        from swebench_tasks import report

        s = self.settings
        preds = self.predictions()
        results = None if s.generate_only else self.eval_results()
        summary = report.build_summary(
            run_id=self.run_id,
            provider=s.provider if s.needs_provider else None,
            model=s.model_name,
            dataset=s.dataset,
            selected=self.selected_ids(),
            predictions=preds,
            results=results,
            results_dir=self.results_dir,
            predictions_path=self.predictions_file,
        )
        if self.agent_mode:  # SPEC.md, Agent mode: the summary's keys are otherwise unchanged
            from swebench_tasks.agent_tasks import copy_trajectories, summarize

            summary.update(summarize(self))
            copy_trajectories(self, self.results_dir)
        report.write_artifacts(
            results_dir=self.results_dir,
            summary=summary,
            predictions=preds,
            logs_root=self.paths.harness_logs,
            model_name=s.model_name,
        )


# -- running the graph -------------------------------------------------------------------


@dataclass
class RunRecord:
    """Which tasks ran and which were up to date, as doit reported them."""

    executed: list[str] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def up_to_date_lines(self) -> list[str]:
        """Per stage, what was up to date ("generate: 2294 up to date"): one line, not one per task."""
        counts: dict[str, int] = {}
        for name in self.up_to_date:
            stage = name.split(":", 1)[0]
            counts[stage] = counts.get(stage, 0) + (1 if ":" in name else 0)
        return [f"{stage}: {n} up to date" if n else f"{stage}: up to date" for stage, n in counts.items()]


def make_reporter(graph: Graph, record: RunRecord):
    """A doit reporter class that feeds the progress bars and the run record, printing nothing."""

    class GraphReporter:
        def __init__(self, outstream, options):
            self.out = outstream

        def initialize(self, tasks, selected_tasks):
            pass

        def get_status(self, task):
            pass

        def execute_task(self, task):
            if task.name.startswith("generate:"):
                total = len(graph.selected_ids())
                graph.progress.stage("generate", total, "Generating patches")

        def add_failure(self, task, fail):
            record.failed.append(task.name)
            if graph.failure is None:
                message = fail.get_msg().strip()
                last = message.splitlines()[-1] if message else fail
                graph.failure = SwebenchError(f"task {task.name} failed: {last}")

        def add_success(self, task):
            if task.actions:
                record.executed.append(task.name)
            if task.name.startswith("generate:"):
                graph.progress.advance("generate", task.name.split(":", 1)[1])

        def skip_uptodate(self, task):
            if task.actions and task.name not in record.executed:
                record.up_to_date.append(task.name)
            if task.name.startswith("generate:"):
                graph.progress.stage("generate", len(graph.selected_ids()), "Generating patches")
                graph.progress.advance("generate", task.name.split(":", 1)[1], quiet=True)

        def skip_ignore(self, task):
            pass

        def cleanup_error(self, exception):
            pass

        def runtime_error(self, msg):
            if graph.failure is None:
                graph.failure = SwebenchError(f"task graph error: {msg.strip().splitlines()[-1]}")

        def teardown_task(self, task):
            pass

        def complete_run(self):
            pass

    return GraphReporter


def run_graph(graph: Graph, argv: list[str] | None = None, reporter: bool = True) -> tuple[int, RunRecord]:
    """Run doit on the graph in-process; `argv` is a doit command line (default: run).

    With our reporter (the `swebench` fronts) doit's own messages are kept off the
    screen: a failure surfaces as the kept SwebenchError, else as one line naming a log.
    """
    import contextlib
    import io

    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    record = graph.record
    namespace = graph.namespace()
    doit_err = io.StringIO()
    if reporter:
        namespace["DOIT_CONFIG"]["reporter"] = make_reporter(graph, record)
        _ = graph.ui.err, graph.ui.console  # bind our consoles to the real streams before doit's are hidden
    try:
        with contextlib.redirect_stderr(doit_err) if reporter else contextlib.nullcontext():
            rc = DoitMain(ModuleTaskLoader(namespace)).run(argv or [])
    except KeyboardInterrupt:  # Ctrl+C or SIGTERM reach this thread only, not the workers
        harness.stop_children()
        raise
    finally:
        if graph.agent_state is not None and graph.agent_state.swept:  # an agent task started
            from swebench_tasks.agent_tasks import remove_containers

            remove_containers(graph)  # an interrupt leaves agent threads behind, not their containers
    if not reporter:
        return rc, record
    if graph.failure is not None:
        raise graph.failure
    if rc != 0:
        log = graph.paths.state / "doit-error.log"
        log.write_text(doit_err.getvalue())
        last = next((ln for ln in reversed(doit_err.getvalue().splitlines()) if ln.strip()), "no message")
        raise SwebenchError(f"the task graph failed: {last}", fix=f"see {log}")
    return rc, record


def dodo_namespace(workdir: Path | None = None) -> dict:
    """For `dodo.py` and `doit` in a checkout: the graph for the saved defaults."""
    settings = load_settings(Path(workdir or os.getcwd()), no_input=True)
    return Graph(settings).namespace()
