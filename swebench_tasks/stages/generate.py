"""Stage `generate:<id>`: one patch per instance, kept until provider, model or prompt change.

Two ways to make it: one model call with the context stage's file in the prompt (and a
`git apply --check` in the instance image where an engine has it), or, in agent mode,
mini-swe-agent working in the instance's container. Either way the result is a
GenerationRecord at `ctx.record_file(id)`, which the evaluate and report stages read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

from swebench_tasks.agent import NAME as AGENT
from swebench_tasks.generation import GenerationRecord, is_current
from swebench_tasks.stages.runcontext import RunContext, group


def tasks(ctx: RunContext) -> Iterator[dict]:
    yield from group(
        "generate",
        "One model call per instance; the patch is kept until provider, model or prompt change.",
        _agent_tasks(ctx) if ctx.agent_mode else _model_tasks(ctx),
    )


# -- one model call -------------------------------------------------------------------------


def _model_tasks(ctx: RunContext) -> Iterator[dict]:
    s = ctx.settings
    if not s.needs_provider:
        return
    for row in ctx.rows():
        iid = row["instance_id"]
        path = ctx.record_file(iid)
        yield {
            "name": iid,
            "actions": [ctx.action(generate, row, path)],
            "targets": [path],
            "uptodate": [lambda iid=iid: ctx.generation_current(iid)],
            "task_dep": [f"catalog:{s.provider}"] + ([f"context:{iid}"] if s.context == "retrieval" else []),
            "verbosity": 2,
        }


def generate(ctx: RunContext, row: dict, path: Path) -> None:
    from swebench_tasks.generation import generate_one
    from swebench_tasks.prompt import PROMPT_VERSION, build_messages
    from swebench_tasks.retrieval import read_context

    s = ctx.settings
    context = read_context(ctx.context_file(row["instance_id"])) if s.context == "retrieval" else None
    record = generate_one(
        row,
        provider=ctx.provider(),
        model=s.chosen_model(),
        key=ctx.generation_key,
        messages=build_messages(
            row, context, "statement" if s.context == "retrieval" and context is None else s.context
        ),
        context_mode=s.context,
        prompt_version=PROMPT_VERSION,
        on_wait=ctx.waiter("generate"),
        check_apply=apply_checker(ctx, row),
        model_info=ctx.model_info(),
    )
    record.write(path)


def apply_checker(ctx: RunContext, row: dict) -> Callable[[str], tuple[bool, str, str]] | None:
    """A `git apply --check` inside the instance image, or None where no engine can run it."""
    if not ctx.uses_docker or not row.get("image"):
        return None
    from swebench_tasks.engine import is_present
    from swebench_tasks.retrieval import check_in_image

    if not is_present(row["image"]):
        return None
    return lambda diff: check_in_image(row["image"], diff)


# -- agent mode -----------------------------------------------------------------------------


class AgentRunState:
    """What the instances of one invocation share: the leftover sweep, the protocol found, totals."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.swept = False
        self.protocol: str | None = None  # "text" once an endpoint refused tools
        self.cost = 0.0
        self.steps = 0


def _agent_tasks(ctx: RunContext) -> Iterator[dict]:
    s = ctx.settings
    state = AgentRunState()

    # However the invocation ends (an interrupt leaves agent threads behind), no container outlives it.
    def cleanup() -> None:
        if state.swept:  # an agent task started
            remove_containers(ctx)

    ctx.cleanups["agent containers"] = cleanup
    key = ctx.generation_key
    for row in ctx.rows():
        iid = row["instance_id"]
        path = ctx.record_file(iid)
        yield {
            "name": iid,
            "actions": [ctx.action(run_agent, state, row, path, key)],
            "targets": [path, ctx.trajectory_file(iid)],
            "uptodate": [lambda path=path: is_current(path, key)],
            "task_dep": [f"catalog:{s.provider}", f"image:{iid}"],
            "doc": f"mini-swe-agent on {iid} in its image.",
            "verbosity": 2,
        }


def run_agent(ctx: RunContext, state: AgentRunState, row: dict, path: Path, key: str) -> None:
    from swebench_tasks.agent.runner import Limits, remove_leftovers, run_instance
    from swebench_tasks.images import expected_image

    s, iid = ctx.settings, row["instance_id"]
    with state.lock:
        if not state.swept:  # one run per working directory: any labelled container is a leftover
            removed = remove_leftovers(s.workdir)
            if removed:
                ctx.progress.note(f"Removed {len(removed)} agent container(s) left by an earlier run")
            state.swept = True
        protocol = state.protocol
        if s.budget is not None and state.cost >= s.budget:
            ctx.progress.note(f"{iid}: not started, the run's budget (${s.budget:g}) is spent")
            ctx.trajectory_file(iid).unlink(missing_ok=True)
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
        ctx.progress.item(f"{iid} step {step} ${cost:.4f} ({totals}): {first[:100]}")

    record = run_instance(
        ctx.provider(),
        s.chosen_model(),
        row,
        expected_image(row),
        workdir=s.workdir,
        trajectory=ctx.trajectory_file(iid),
        limits=Limits(s.step_limit, s.cost_limit),
        protocol=protocol,
        catalog_info=ctx.model_info(),
        on_step=on_step,
        on_wait=ctx.waiter("generate"),
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


def remove_containers(ctx: RunContext) -> None:
    """One run per working directory holds the lock, so every labelled container is this run's."""
    from swebench_tasks.agent.runner import remove_leftovers
    from swebench_tasks.errors import SwebenchError

    try:
        remove_leftovers(ctx.settings.workdir)
    except SwebenchError:  # Docker is gone: the run's own error says so; don't mask it
        pass
