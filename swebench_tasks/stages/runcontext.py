"""The run context every stage declares its tasks from: settings, paths, the selection, keys,
progress callbacks, and the files on disk where the stages meet.

Stages never call each other: `generate:<id>` depends on `context:<id>` by task name and
reads the file the context stage wrote (`context_file`). That is why the paths of those
files live here, and nothing stage-specific does.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from swebench_tasks import datasets, harness
from swebench_tasks.config import Paths, Settings
from swebench_tasks.errors import SwebenchError, UsageError
from swebench_tasks.files import safe_name
from swebench_tasks.generation import GenerationRecord, generation_key, is_current, record_path
from swebench_tasks.report import Prediction
from swebench_tasks.ui import RunProgress, Ui

if TYPE_CHECKING:
    from swebench_tasks.providers import ModelInfo, Provider

T = TypeVar("T")
Action = Callable[[], object]
TaskCreator = Callable[[], Iterator[dict]]


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


class RunContext:
    """One selection's run. Built cheaply; nothing heavy is imported until a task runs."""

    def __init__(
        self, settings: Settings, ui: Ui | None = None, progress: RunProgress | None = None, key: str | None = None
    ):
        self.settings = settings
        self.ui = ui or Ui(no_input=True)
        self.progress = progress or RunProgress(self.ui)
        self.key = key
        self.service_key: str | None = None  # SWEBENCH_API_KEY for --backend sb-cli, set like `key`
        self.failure: SwebenchError | None = None
        self.record = RunRecord()  # accumulates over every doit invocation on this run
        # Run after every doit invocation however it ends, by name: a stage's creator replaces its own.
        self.cleanups: dict[str, Callable[[], None]] = {}
        self._provider: Provider | None = None
        self._lock = threading.RLock()  # kept() may build what asks for the provider
        self._kept: dict[str, Any] = {}
        self._record_files: dict[str, Path] = {}
        self._verdicts: dict[Path, tuple[tuple[int, int, int], bool]] = {}

    # -- what the run is ----------------------------------------------------------------

    @property
    def paths(self) -> Paths:
        return self.settings.paths

    @property
    def run_id(self) -> str:
        return self.settings.effective_run_id

    @property
    def agent_mode(self) -> bool:
        """An agent makes the patches (docs/agent-mode.md); gold and given patches need none."""
        return self.settings.agent != "none" and self.settings.needs_provider

    @property
    def uses_docker(self) -> bool:
        s = self.settings
        return s.backend == "local" and not s.generate_only

    @property
    def uses_harness(self) -> bool:
        """Evaluation by the official harness from this machine (on Docker, or its Modal path)."""
        s = self.settings
        return s.backend in ("local", "modal") and not s.generate_only

    @property
    def retrieves(self) -> bool:
        """Prompts carry code retrieved from the repository (not in agent mode: the agent reads it)."""
        s = self.settings
        return s.needs_provider and s.context == "retrieval" and not self.agent_mode

    # -- the files where stages meet ----------------------------------------------------

    @cached_property
    def dataset_file(self) -> Path:
        s = self.settings
        return datasets.cache_path(self.paths.state, s.dataset, s.split, s.workdir)

    @property
    def catalog_file(self) -> Path:
        return self.paths.catalog / f"{self.settings.provider}.json"

    def context_file(self, instance_id: str) -> Path:
        return self.paths.contexts / f"{safe_name(instance_id)}.json"

    def record_file(self, instance_id: str) -> Path:
        """Built once per instance: a full selection asks for each several times."""
        path = self._record_files.get(instance_id)
        if path is None:
            s = self.settings
            path = self._record_files[instance_id] = record_path(
                self._generations_dir, s.provider or "", s.model or "", instance_id
            )
        return path

    def trajectory_file(self, instance_id: str) -> Path:
        """An agent's trajectory, beside the instance's record."""
        return self.record_file(instance_id).with_suffix(".traj.json")

    @cached_property
    def _generations_dir(self) -> Path:
        return self.paths.state / "agent" if self.agent_mode else self.paths.generations

    @property
    def run_dir(self) -> Path:
        return self.paths.runs / self.run_id

    @property
    def results_dir(self) -> Path:
        return self.paths.results / self.run_id

    @property
    def predictions_file(self) -> Path:
        """Under results/, where a user generating for another harness (or sb-cli) finds it."""
        return self.results_dir / "predictions.jsonl"

    @property
    def harness_report(self) -> Path:
        return harness.summary_report_path(self.paths.reports, self.settings.model_name, self.run_id)

    @property
    def summary_file(self) -> Path:
        return self.results_dir / "summary.json"

    def instance_logs(self, instance_id: str) -> Path:
        return harness.instance_log_dir(self.paths.harness_logs, self.run_id, self.settings.model_name, instance_id)

    def model_info(self) -> ModelInfo | None:
        """The catalog's entry for the selected model (context size, prices), if known."""
        from swebench_tasks.catalog import read_catalog

        models = read_catalog(self.catalog_file) or []
        return next((m for m in models if m.id == self.settings.model), None)

    def kept(self, name: str, make: Callable[[], T]) -> T:
        """What a stage keeps for the whole run (its git remotes, a token budget): made once."""
        with self._lock:
            if name not in self._kept:
                self._kept[name] = make()
            return self._kept[name]

    # -- generations: what makes a patch current ----------------------------------------

    @cached_property
    def generation_key(self) -> str:
        s = self.settings
        if self.agent_mode:
            from swebench_tasks.agent.limits import agent_key

            return agent_key(s)
        from swebench_tasks.prompt import PROMPT_VERSION

        return generation_key(s.provider or "", s.model or "", PROMPT_VERSION, s.context)

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

    # -- the selection ------------------------------------------------------------------

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

    @cached_property
    def _selected_ids(self) -> list[str]:
        return [r["instance_id"] for r in self._rows]

    def selected_ids(self) -> list[str]:
        """Built once per run: the reporter and several tasks ask for it."""
        return self._selected_ids if self.dataset_file.exists() else []

    def check_evaluable(self) -> None:
        """Refuse a selection the harness cannot take, before any work (datasets.check_evaluable)."""
        if self.uses_harness:
            datasets.check_evaluable(self.rows())

    def given_predictions(self) -> dict[str, str]:
        """`--predictions FILE`: instance id -> patch, validated."""
        assert self.settings.predictions is not None, "called only with --predictions"
        path = Path(self.settings.predictions)
        out = {}
        for i, row in enumerate(datasets.read_local(path)):
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

    # -- keys and the provider ----------------------------------------------------------

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

    def provider(self) -> Provider:
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

    def waiter(self, stage: str) -> Callable[[float, str], None]:
        """Provider waits shown on `stage`'s bar (or as a line), whichever progress is live then."""
        return lambda seconds, why: self.progress.wait(stage, seconds, why)

    # -- failures: kept for the front, one line -----------------------------------------

    def action(self, func: Callable[..., object], *args: object) -> Action:
        """`func(self, *args)` as a doit action, named and documented as `func`: a SwebenchError it
        raises is kept for the front and fails the task quietly. What it returns is the stage's,
        not doit's (doit would take a record for a failure)."""
        from doit.exceptions import TaskFailed

        def act() -> TaskFailed | None:
            if self.failure is not None:
                return TaskFailed("an earlier task failed")
            try:
                func(self, *args)
            except SwebenchError as exc:
                with self._lock:
                    self.failure = self.failure or exc
                return TaskFailed(exc.line())
            return None

        act.__name__, act.__doc__ = func.__name__, func.__doc__
        return act

    def guard_creator(self, creator: TaskCreator) -> TaskCreator:
        """A task creator whose SwebenchError is kept for the front (doit then stops quietly)."""
        from doit.exceptions import InvalidTask

        def create() -> Iterator[dict]:
            try:
                yield from creator()
            except SwebenchError as exc:
                self.failure = self.failure or exc
                raise InvalidTask(exc.line()) from None

        create.__doc__ = creator.__doc__
        return create


def group(basename: str, doc: str | None, tasks: Iterator[dict]) -> Iterator[dict]:
    """A doit group of per-instance subtasks: `doit image` runs every instance's."""
    yield {"basename": basename, "name": None, "doc": doc}
    for task in tasks:
        yield {**task, "basename": basename}
