"""Agent mode in the task graph: `generate:<id>` runs mini-swe-agent instead of one chat.

The task's targets are the instance's record (a GenerationRecord with the agent's outcome
beside it) and its trajectory. It is up to date while provider, model, agent version, the
shipped configs and the limits match. An instance whose agent crashed, met a provider error
or was interrupted writes no record, so the next run retries it. Nothing here imports mini-swe-agent until a task runs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from swebench_tasks.agent import NAME as AGENT
from swebench_tasks.config import Settings
from swebench_tasks.generate import GenerationRecord

if TYPE_CHECKING:
    from swebench_tasks.tasks import Graph


def agent_key(s: Settings) -> str:
    """What makes an agent record current: provider, model, agent version, configs, limits."""
    from swebench_tasks.agent import version
    from swebench_tasks.agent.model import PROTOCOLS, config_digest

    text = json.dumps(
        [s.provider, s.model, AGENT, version(), [config_digest(p) for p in PROTOCOLS], s.step_limit, s.cost_limit]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def trajectory_file(record_file: Path) -> Path:
    return record_file.with_suffix(".traj.json")


class AgentRunState:
    """What the instances of one run share: the leftover sweep, the protocol found, totals."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.swept = False
        self.protocol: str | None = None  # "text" once an endpoint refused tools
        self.cost = 0.0
        self.steps = 0


def agent_task(g: Graph, row: dict, path: Path, key: str, deps: list[str]) -> dict:
    """The doit subtask `generate:<id>` in agent mode."""
    from swebench_tasks.generate import is_current

    def run() -> None:
        run_agent(g, row, path, key)

    run.__doc__ = f"mini-swe-agent on {row['instance_id']} in its image."
    return {
        "name": row["instance_id"],
        "actions": [g.guard(run)],
        "targets": [path, trajectory_file(path)],
        "uptodate": [lambda: is_current(path, key)],
        "task_dep": deps,
        "doc": run.__doc__,
        "verbosity": 2,
    }


def run_agent(g: Graph, row: dict, path: Path, key: str) -> None:
    from swebench_tasks.agent.runner import Limits, remove_leftovers, run_instance
    from swebench_tasks.images import expected_image

    s, state, iid = g.settings, g.agent_state, row["instance_id"]
    assert state is not None, "the generate creator sets it before any agent task"
    with state.lock:
        if not state.swept:  # one run per working directory: any labelled container is a leftover
            removed = remove_leftovers(s.workdir)
            if removed:
                g.progress.note(f"Removed {len(removed)} agent container(s) left by an earlier run")
            state.swept = True
        protocol = state.protocol
        if s.budget is not None and state.cost >= s.budget:
            g.progress.note(f"{iid}: not started, the run's budget (${s.budget:g}) is spent")
            trajectory_file(path).unlink(missing_ok=True)
            # An empty answer for this run that is never current: a later run starts it.
            GenerationRecord(
                instance_id=iid,
                provider=s.provider or "",
                model=s.model or "",
                prompt_version=AGENT,
                context="agent",
                key="",
            ).write(path, extra={"agent": {"exit_status": "not_started", "steps": 0, "cost": 0.0, "protocol": None}})
            return
    last_cost = [0.0]

    def on_step(step: int, cost: float, command: str) -> None:
        with state.lock:
            state.steps += 1
            state.cost += cost - last_cost[0]
            last_cost[0] = cost
            totals = f"run: {state.steps} steps, ${state.cost:.4f}"
        first = command.strip().splitlines()[0] if command.strip() else ""
        g.progress.item(f"{iid} step {step} ${cost:.4f} ({totals}): {first[:100]}")

    record = run_instance(
        g.provider(),
        s.chosen_model(),
        row,
        expected_image(row),
        workdir=s.workdir,
        trajectory=trajectory_file(path),
        limits=Limits(s.step_limit, s.cost_limit),
        protocol=protocol,
        catalog_info=g.model_info(),
        on_step=on_step,
        on_wait=lambda seconds, why: g.progress.wait("generate", seconds, why),
    )
    if record.protocol == "text":
        with state.lock:
            state.protocol = "text"
    GenerationRecord(
        instance_id=iid,
        provider=s.provider or "",
        model=s.model or "",
        prompt_version=f"{AGENT} {record.agent_version}",
        context="agent",
        key=key,
        patch=record.patch,
        input_tokens=record.input_tokens,
        output_tokens=record.output_tokens,
        cost_usd=record.cost,
        attempts=record.steps,
    ).write(path, extra={"agent": asdict(record)})


def remove_containers(g: Graph) -> None:
    """At the end of every invocation, however it ended: no agent container outlives the run.
    (One run per working directory holds the lock, so every labelled container is this run's.)"""
    from swebench_tasks.agent.runner import remove_leftovers
    from swebench_tasks.errors import SwebenchError

    try:
        remove_leftovers(g.settings.workdir)
    except SwebenchError:  # Docker is gone: the run's own error says so; don't mask it
        pass


def read_outcome(path: Path) -> dict | None:
    """The agent's outcome saved beside an instance's record, if it ran in agent mode."""
    try:
        agent = json.loads(path.read_text()).get("agent")
    except (OSError, ValueError, AttributeError):
        return None
    return agent if isinstance(agent, dict) else None


def copy_trajectories(g: Graph, results_dir: Path) -> None:
    """Each instance's trajectory under results/<run_id>/<id>/."""
    for iid in g.selected_ids():
        source = trajectory_file(g.record_file(iid))
        if source.exists():
            (results_dir / iid).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, results_dir / iid / "trajectory.json")


def summarize(g: Graph) -> dict:
    """The summary's agent part: protocols used, total steps, and per instance its outcome."""
    instances = {}
    for iid in g.selected_ids():
        outcome = read_outcome(g.record_file(iid))
        if outcome is not None:
            instances[iid] = {
                "exit_status": outcome["exit_status"],
                "steps": outcome["steps"],
                "cost_usd": outcome["cost"],
                "protocol": outcome["protocol"],
            }
    return {
        "agent": AGENT,
        "protocols": sorted({i["protocol"] for i in instances.values() if i["protocol"]}),
        "steps": sum(i["steps"] for i in instances.values()),
        "instances": instances,
    }


def limits_text(s: Settings) -> str:
    """The limits a run's instances get: the flags', else the shipped config's."""
    steps, usd = _limits(s)
    return f"${usd:g} and {steps} steps per instance{'' if s.budget is None else f', budget ${s.budget:g} for the run'}"


def most_usd(s: Settings, count: int) -> float:
    """What the limits allow at most for `count` instances (the budget stops new ones, not running ones)."""
    usd = _limits(s)[1]
    return usd * count if s.budget is None else min(usd * count, s.budget + usd * s.max_workers)


def _limits(s: Settings) -> tuple[int, float]:
    from swebench_tasks.agent.model import load_config

    shipped = load_config("tools")["agent"]
    return s.step_limit or shipped["step_limit"], s.cost_limit or float(shipped["cost_limit"])


def forecast_line(s: Settings, count: int) -> str:
    """What the limits allow at most, before an agent run."""
    return (
        f"Agent mode ({AGENT}) on {count} instance(s) with {s.model}: at most ${most_usd(s, count):.2f} "
        f"({limits_text(s)})"
    )
