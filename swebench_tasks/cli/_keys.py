"""What `secrets` and `profiles` share: reading a key without argv, the Ui (the live check is
`usecases.validate_key`)."""

from __future__ import annotations

import os
import sys

import click

from swebench_tasks.errors import UsageError


def ui_for(ctx: click.Context, no_input: bool | None, json_mode: bool | None):
    """The Ui, honouring --no-input/--json given on this command or on its group."""
    from swebench_tasks.cli import ui_from

    group = ctx.parent.params if ctx.parent is not None else {}
    return ui_from(ctx, no_input or group.get("no_input"), json_mode or group.get("json_mode"))


def keyed_provider(provider: str) -> str:
    """The provider's key variable; UsageError for an unknown provider or one without keys."""
    from swebench_tasks.keys import key_env

    env = key_env(provider)
    if env is None:
        raise UsageError(f"{provider} needs no key", fix=f"just run `swebench models {provider}`")
    return env


def read_key(provider: str, *, stdin: bool, from_env: str | None, interactive: bool) -> str:
    """One key, from one stdin line, a named variable or a hidden prompt; sanitised."""
    from swebench_tasks.keys import sanitize_key

    if stdin:
        return sanitize_key(sys.stdin.readline())
    if from_env:
        value = os.environ.get(from_env)
        if value is None:
            raise UsageError(f"{from_env} is not set", fix=f"export {from_env}, or pass the key with --stdin")
        return sanitize_key(value)
    if not interactive:
        raise UsageError("no terminal to prompt for the key", fix="pipe it in with --stdin")
    import getpass

    return sanitize_key(getpass.getpass(f"{provider} key (input hidden): "))
