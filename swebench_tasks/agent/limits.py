"""What an agent run may spend, and what makes its records current: the flags' limits, else
the shipped config's. For the generate stage, the run's forecast and the wizard's summary."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from swebench_tasks.agent import NAME

if TYPE_CHECKING:
    from swebench_tasks.config import Settings


def agent_key(s: Settings) -> str:
    """What makes an agent record current: provider, model, agent version, configs, limits."""
    from swebench_tasks.agent import version
    from swebench_tasks.agent.model import PROTOCOLS, config_digest

    text = json.dumps(
        [s.provider, s.model, NAME, version(), [config_digest(p) for p in PROTOCOLS], s.step_limit, s.cost_limit]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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
        f"Agent mode ({NAME}) on {count} instance(s) with {s.model}: at most ${most_usd(s, count):.2f} "
        f"({limits_text(s)})"
    )
