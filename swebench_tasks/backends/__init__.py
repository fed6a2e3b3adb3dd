"""Evaluation backends: `local` (the harness on the Docker engine) and `sb-cli` (hosted).

Each backend is one module with `evaluate(ctx)`, given the stages' run context: it leaves
the harness-shaped report at `ctx.harness_report`, so the report stage is the same for all.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from swebench_tasks.errors import UsageError

if TYPE_CHECKING:
    from swebench_tasks.stages.runcontext import RunContext

MODULES = {"local": "local", "sb-cli": "sbcli", "modal": "modal"}


def evaluate(ctx: RunContext) -> None:
    backend = ctx.settings.backend
    if backend not in MODULES:
        raise UsageError(f"unknown backend {backend!r}", fix="use --backend local or --backend sb-cli")
    importlib.import_module(f"swebench_tasks.backends.{MODULES[backend]}").evaluate(ctx)
