"""The harness's own Modal path, accepted only where the installed harness's Modal path works."""

from __future__ import annotations

from typing import TYPE_CHECKING

from swebench_tasks.errors import UsageError

if TYPE_CHECKING:
    from swebench_tasks.stages.runcontext import RunContext


def check() -> None:
    """swebench 5.0.2's Modal path is broken (its TestSpec has no setup_env_script)."""
    from importlib.metadata import version

    from swebench.types import TestSpec

    if not hasattr(TestSpec, "setup_env_script"):
        raise UsageError(
            f"--backend modal does not work with the installed harness (swebench {version('swebench')})",
            fix="use --backend local (Docker) or --backend sb-cli (hosted)",
        )


def evaluate(ctx: RunContext) -> None:
    from swebench_tasks.backends import local

    check()
    local.evaluate(ctx, label="Running harness evaluation on Modal", modal=True)
