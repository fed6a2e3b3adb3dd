"""`swebench secrets set/get/clear PROVIDER`: keys in the OS keychain, never on screen."""

from __future__ import annotations

import click

from swebench_tasks.cli import global_options
from swebench_tasks.cli._keys import keyed_provider, read_key, ui_for
from swebench_tasks.usecases import validate_key

PROFILE = click.option(
    "--profile", default=None, metavar="NAME", help="A named profile (default: the default profile, account PROVIDER)."
)


@click.group("secrets")
@global_options
def command(no_input: bool | None, json_mode: bool | None) -> None:
    """Store, check or clear a provider key in the OS keychain (service swebench-runner)."""


@command.command("set")
@click.argument("provider")
@PROFILE
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the key from one line of stdin.")
@global_options
@click.pass_context
def set_(ctx, provider: str, profile: str | None, from_stdin: bool, no_input, json_mode) -> None:
    """Read a key (hidden prompt, or --stdin), validate it live, store it in the keychain."""
    from swebench_tasks import config, keys, profiles

    ui = ui_for(ctx, no_input, json_mode)
    keyed_provider(provider)
    if profile and provider != "sb-cli":
        profiles.require(provider, profile)
    key = read_key(provider, stdin=from_stdin, from_env=None, interactive=ui.interactive)
    validate_key(provider, key, on_wait=ui.wait_line)
    backend = keys.store_key(provider, key, profile=profile)
    account = keys.account(provider, profile)
    if ui.json:
        ui.emit(
            {
                "provider": provider,
                "profile": profile or config.DEFAULT_PROFILE,
                "account": account,
                "stored": True,
                "validated": True,
                "backend": backend,
            }
        )
    else:
        ui.print(
            f"{provider}: key validated and stored in the keychain "
            f"(service {keys.SERVICE}, account {account}, backend {backend})",
            markup=False,
        )


@command.command("get")
@click.argument("provider")
@PROFILE
@global_options
@click.pass_context
def get(ctx, provider: str, profile: str | None, no_input, json_mode) -> None:
    """Report whether a key is present and where (never the key itself)."""
    from dataclasses import asdict

    from swebench_tasks import keys

    ui = ui_for(ctx, no_input, json_mode)
    keyed_provider(provider)
    status = keys.key_status(provider, profile=profile)
    if ui.json:
        ui.emit({**asdict(status), "present": status.present})
        return
    where = [
        w
        for w, on in (
            (f"environment ({status.env_var})", status.in_environment),
            (f"keychain (account {status.account})", status.in_keychain),
        )
        if on
    ]
    found = f"key present in {' and '.join(where)}" if where else "no key stored"
    chain = status.backend if status.keychain else f"none usable ({status.backend})"
    ui.print(f"{provider}: {found}; keychain backend: {chain}", markup=False)


@command.command("clear")
@click.argument("provider")
@PROFILE
@global_options
@click.pass_context
def clear(ctx, provider: str, profile: str | None, no_input, json_mode) -> None:
    """Remove a stored key from the keychain."""
    from swebench_tasks import keys

    ui = ui_for(ctx, no_input, json_mode)
    keyed_provider(provider)
    removed = keys.clear_key(provider, profile=profile)
    account = keys.account(provider, profile)
    if ui.json:
        ui.emit({"provider": provider, "account": account, "removed": removed})
    else:
        ui.print(f"{provider}: {'key removed' if removed else 'no key was stored'} (account {account})", markup=False)
