"""What `secrets` and `profiles` share: reading a key without argv, checking it live, the Ui."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from swebench_tasks.errors import UsageError

if TYPE_CHECKING:
    from swebench_tasks.providers import OnWait


def ui_for(ctx: click.Context, no_input: bool | None, json_mode: bool | None):
    """The Ui, honouring --no-input/--json given on this command or on its group."""
    from swebench_tasks.cli import ui_from

    group = ctx.parent.params if ctx.parent is not None else {}
    return ui_from(ctx, no_input or group.get("no_input"), json_mode or group.get("json_mode"))


def keyed_provider(provider: str) -> str:
    """The provider's key variable; UsageError for an unknown provider or one without keys."""
    from swebench_tasks.secrets import key_env

    env = key_env(provider)
    if env is None:
        raise UsageError(f"{provider} needs no key", fix=f"just run `swebench models {provider}`")
    return env


def read_key(provider: str, *, stdin: bool, from_env: str | None, interactive: bool) -> str:
    """One key, from one stdin line, a named variable or a hidden prompt; sanitised."""
    from swebench_tasks.secrets import sanitize_key

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


def validate(provider: str, key: str, on_wait: OnWait | None = None) -> None:
    """Ask the provider whether it accepts the key (AuthError/ProviderError: exit 3);
    `on_wait` hears of each rate-limit or backoff wait on the way."""
    if provider == "sb-cli":  # the hosted evaluator's key is checked by asking for its quotas
        from swebench_tasks.backends.sbcli import validate_key

        validate_key(key, on_wait)
        return
    from swebench_tasks.providers import get_provider
    from swebench_tasks.secrets import key_fix

    get_provider(provider, key=key, on_wait=on_wait, key_fix=key_fix).validate_key()
