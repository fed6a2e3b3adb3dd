"""The official harness as a subprocess: the flags it accepts, a run, and its results.

The harness is run by `SWEBENCH_HARNESS_PYTHON` (default: this interpreter) and is
never imported here (it costs over a second). Results are read in this order:
the summary report, then per-instance `report.json`, then the log tail with its path.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from swebench_tasks.errors import EngineError
from swebench_tasks.files import safe_name

MODULE = "swebench.harness.run_evaluation"
# Variables no harness child needs: keys stay in this process.
SECRET_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "HF_TOKEN", "SWEBENCH_API_KEY")


@dataclass
class EvalResults:
    """What the harness concluded, whichever of its outputs it came from."""

    source: str  # "summary", "instances" or "log"
    report_path: Path | None = None
    resolved_ids: list[str] = field(default_factory=list)
    unresolved_ids: list[str] = field(default_factory=list)
    error_ids: list[str] = field(default_factory=list)
    empty_patch_ids: list[str] = field(default_factory=list)
    instance_reports: dict[str, Path] = field(default_factory=dict)

    @property
    def evaluated(self) -> int:
        return len(self.resolved_ids) + len(self.unresolved_ids)


def model_dir_name(model_name: str) -> str:
    """The harness's folder name for a model."""
    return model_name.replace("/", "__")


# The harness builds these paths itself from the same names; for the names it is given
# (plain ones: see Settings.model_name, datasets.check_evaluable) safe_name changes nothing.
# Other writers of the harness's layout (the sb-cli backend) may see any id.


def summary_report_path(report_dir: Path, model_name: str, run_id: str) -> Path:
    return report_dir / f"{safe_name(model_dir_name(model_name))}.{safe_name(run_id)}.json"


def instance_log_dir(logs_root: Path, run_id: str, model_name: str, instance_id: str) -> Path:
    return logs_root / safe_name(run_id) / safe_name(model_dir_name(model_name)) / safe_name(instance_id)


def child_env(platform: str | None = None) -> dict[str, str]:
    """Our environment without the keys; `platform` (an emulated run's) as DOCKER_DEFAULT_PLATFORM."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_VARS}
    if platform:
        env["DOCKER_DEFAULT_PLATFORM"] = platform
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def accepted_flags(python: str, cache_file: Path | None = None) -> set[str]:
    """The long flags this harness's argparse accepts (4.x and 5.x differ).

    Reading them costs a `--help` run that imports the harness (over a second), so they are
    cached once per interpreter in the user cache dir, keyed by the interpreter and the
    harness's version and file time: a new working directory does not pay again, a
    reinstalled harness does. A harness whose version cannot be read is asked every time.
    """
    cache_file = cache_file or flags_cache_file()
    interpreter = _interpreter_path(python)
    stamp = harness_stamp(python)
    entries = _read_json(cache_file)
    entry = entries.get(interpreter)
    if stamp is not None and isinstance(entry, dict) and entry.get("stamp") == stamp:
        return set(entry["flags"])
    proc = subprocess.run(
        [python, "-m", MODULE, "--help"], capture_output=True, text=True, env=child_env(), timeout=120
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise EngineError(
            f"the harness is not usable with {python}",
            fix="pip install swebench (or point SWEBENCH_HARNESS_PYTHON at an interpreter that has it)",
            detail=tail,
        )
    flags = sorted(set(re.findall(r"(--[a-z_]+)", proc.stdout)))
    if stamp is not None:
        entries[interpreter] = {"stamp": stamp, "flags": flags}
        _write_json(cache_file, entries)
    return set(flags)


def flags_cache_file() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("swebench-runner")) / "harness-flags.json"


# The harness's version and the time of its run_evaluation.py, without importing it.
_STAMP_CODE = (
    "import importlib.metadata as m, os; d = m.distribution('swebench'); "
    "print(d.version, os.stat(d.locate_file('swebench/harness/run_evaluation.py')).st_mtime_ns)"
)


def harness_stamp(python: str) -> str | None:
    """Changes when the harness installed in `python` changes; None where it cannot be read."""
    if _interpreter_path(python) == _interpreter_path(sys.executable):
        import io
        from contextlib import redirect_stdout

        out = io.StringIO()
        try:
            with redirect_stdout(out):
                exec(_STAMP_CODE, {})  # the same code a foreign interpreter runs, in-process
        except (ImportError, OSError):
            return None
        return out.getvalue().strip() or None
    try:
        proc = subprocess.run(
            [python, "-c", _STAMP_CODE],
            capture_output=True,
            text=True,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (proc.stdout.strip() or None) if proc.returncode == 0 else None


def _interpreter_path(python: str) -> str:
    """Absolute, symlinks kept: two venvs share their base interpreter's binary, not packages."""
    return os.path.abspath(shutil.which(python) or python)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: dict) -> None:
    """Atomic, so concurrent runs in other working directories never read half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable cache dir costs the next run a probe, nothing more


def build_command(
    *,
    python: str,
    flags: set[str],
    dataset: str,
    split: str,
    predictions: Path,
    instance_ids: list[str],
    max_workers: int,
    timeout: int,
    run_id: str,
    report_dir: Path,
    namespace: str | None = None,
    modal: bool = False,
) -> list[str]:
    """Only what the installed harness accepts; `--namespace` only where it exists and was set."""
    cmd = [
        python,
        "-m",
        MODULE,
        "--dataset_name",
        dataset,
        "--split",
        split,
        "--predictions_path",
        str(predictions),
        "--max_workers",
        str(max_workers),
        "--timeout",
        str(timeout),
        "--run_id",
        run_id,
    ]
    if instance_ids:
        cmd += ["--instance_ids", *instance_ids]
    if "--report_dir" in flags:
        cmd += ["--report_dir", str(report_dir)]
    if namespace and "--namespace" in flags:
        cmd += ["--namespace", namespace]
    if modal:
        cmd += ["--modal", "true"]
    return cmd


def run(
    cmd: list[str],
    *,
    cwd: Path,
    log_path: Path,
    logs_root: Path,
    run_id: str,
    model_name: str,
    instance_ids: list[str],
    on_progress: Callable[[int, int], None] | None = None,
    platform: str | None = None,
) -> None:
    """Run the harness, its output to `log_path`, reporting finished instances as they land;
    `platform` is the images' when the run emulates another (DOCKER_DEFAULT_PLATFORM)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    reports = [instance_log_dir(logs_root, run_id, model_name, i) / "report.json" for i in instance_ids]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=child_env(platform), stdin=subprocess.DEVNULL
        )
        _running.add(proc)
        try:
            while proc.poll() is None:
                if on_progress:
                    on_progress(sum(p.exists() for p in reports), len(reports))
                try:
                    proc.wait(timeout=0.5)  # returns as soon as the harness exits
                except subprocess.TimeoutExpired:
                    pass
        finally:
            _running.discard(proc)
    if on_progress:
        on_progress(sum(p.exists() for p in reports), len(reports))
    if proc.returncode != 0:
        raise EngineError(
            f"the harness exited with code {proc.returncode}",
            fix="read the log below; `swebench preflight` checks Docker and the images",
            detail=f"log: {log_path}\n{log_tail(log_path)}",
        )


_running: set[subprocess.Popen] = set()  # harness children, for stop_children()


def stop_children(grace: float = 10.0) -> None:
    """Stop the harness runs still going when the graph is interrupted (Ctrl+C or SIGTERM):
    the worker threads that wait on them never see the interrupt, and a child outliving us
    would go on writing into the working directory. SIGINT first, as Ctrl+C in a terminal."""
    children = list(_running)
    for proc in children:
        proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + grace
    for proc in children:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").rstrip().splitlines()[-lines:])
    except OSError:
        return "(no log written)"


def read_results(
    *, report_dir: Path, logs_root: Path, model_name: str, run_id: str, instance_ids: list[str], empty_ids: set[str]
) -> EvalResults:
    """Summary report first; then per-instance report.json; an instance with neither is an error."""
    per_instance = {i: instance_log_dir(logs_root, run_id, model_name, i) / "report.json" for i in instance_ids}
    found = {i: p for i, p in per_instance.items() if p.exists()}
    summary = summary_report_path(report_dir, model_name, run_id)
    results = EvalResults(source="instances", instance_reports=found)
    selected = set(instance_ids)
    if summary.exists():
        data = json.loads(summary.read_text())
        results.source, results.report_path = "summary", summary
        results.resolved_ids = [i for i in data.get("resolved_ids", []) if i in selected]
        results.unresolved_ids = [i for i in data.get("unresolved_ids", []) if i in selected]
        results.error_ids = [i for i in data.get("error_ids", []) if i in selected]
        results.empty_patch_ids = [i for i in data.get("empty_patch_ids", []) if i in selected]
        accounted = set(results.resolved_ids + results.unresolved_ids + results.error_ids + results.empty_patch_ids)
        # Instances the summary omits (e.g. reused from an earlier run) come from report.json.
        pending = [i for i in instance_ids if i not in accounted]
    else:
        pending = list(instance_ids)
    for iid in pending:
        if iid in empty_ids:
            results.empty_patch_ids.append(iid)
        elif iid in found:
            resolved = json.loads(found[iid].read_text()).get(iid, {}).get("resolved", False)
            (results.resolved_ids if resolved else results.unresolved_ids).append(iid)
        else:
            results.error_ids.append(iid)
    if not summary.exists() and not found:
        results.source = "log"
    return results
