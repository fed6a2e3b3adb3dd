"""Evaluation backends: `local` (the harness on the Docker engine) and `sb-cli` (hosted).

Each backend is one module with `evaluate(graph)`: it leaves the harness-shaped
report at `graph.harness_report`, so the report task is the same for all of them.
"""

from __future__ import annotations

import importlib

from swebench_tasks.errors import UsageError

MODULES = {"local": "local", "sb-cli": "sbcli", "modal": "modal"}


def evaluate(graph) -> None:
    backend = graph.settings.backend
    if backend not in MODULES:
        raise UsageError(f"unknown backend {backend!r}", fix="use --backend local or --backend sb-cli")
    importlib.import_module(f"swebench_tasks.backends.{MODULES[backend]}").evaluate(graph)
