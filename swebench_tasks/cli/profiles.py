"""`swebench profiles ...`: named provider profiles, no prompts (for agents and CI)."""

from __future__ import annotations

import click

from swebench_tasks.cli import global_options
from swebench_tasks.cli._keys import keyed_provider, read_key, ui_for
from swebench_tasks.providers import NAMES
from swebench_tasks.usecases import validate_key

PROVIDER = click.option("--provider", required=True, metavar="P", help=", ".join(NAMES))
PROFILE = click.option("--profile", required=True, metavar="NAME", help="The profile's name.")


@click.group("profiles")
@global_options
def command(no_input: bool | None, json_mode: bool | None) -> None:
    """Named provider profiles (e.g. personal/work keys); keys stay in the keychain."""


def _done(ctx, no_input, json_mode, text: str, **doc) -> None:
    ui = ui_for(ctx, no_input, json_mode)
    if ui.json:
        ui.emit({"ok": True, **doc})
    else:
        ui.print(text, markup=False)


@command.command("list")
@global_options
@click.pass_context
def list_(ctx, no_input, json_mode) -> None:
    """Every provider's profiles; `*` marks the active one."""
    from swebench_tasks import config, profiles

    ui = ui_for(ctx, no_input, json_mode)
    rows = profiles.listing()
    if ui.json:
        ui.emit({"config": str(config.profiles_path()), "profiles": rows})
        return
    for row in rows:
        key = {True: "key stored", False: "no key", None: "no key needed"}[row["key_stored"]]
        ui.print(
            f"{'*' if row['active'] else ' '} {row['provider']:<12} {row['profile']:<16} "
            f"model: {row['model'] or '-'}  ({key})",
            markup=False,
        )


@command.command("create")
@PROVIDER
@PROFILE
@click.option("--active", is_flag=True, help="Make it the provider's active profile.")
@global_options
@click.pass_context
def create(ctx, provider: str, profile: str, active: bool, no_input, json_mode) -> None:
    """Add a profile."""
    from swebench_tasks import profiles

    profiles.create(provider, profile, active=active)
    _done(
        ctx,
        no_input,
        json_mode,
        f"{provider}: created profile {profile}{' (active)' if active else ''}",
        provider=provider,
        profile=profile,
        active=active,
    )


@command.command("set-active")
@PROVIDER
@PROFILE
@global_options
@click.pass_context
def set_active(ctx, provider: str, profile: str, no_input, json_mode) -> None:
    """Make a profile the one runs use."""
    from swebench_tasks import profiles

    profiles.set_active(provider, profile)
    _done(
        ctx,
        no_input,
        json_mode,
        f"{provider}: active profile is now {profile}",
        provider=provider,
        profile=profile,
        active=True,
    )


@command.command("set-key")
@PROVIDER
@PROFILE
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the key from one line of stdin.")
@click.option("--from-env", metavar="VAR", help="Read the key from this environment variable.")
@global_options
@click.pass_context
def set_key(ctx, provider: str, profile: str, from_stdin: bool, from_env: str | None, no_input, json_mode) -> None:
    """Validate a key live and store it for the profile (never from argv)."""
    from swebench_tasks import keys, profiles
    from swebench_tasks.errors import UsageError

    if from_stdin == bool(from_env):
        raise UsageError(
            "give exactly one of --stdin or --from-env VAR",
            fix='e.g. `printf %s "$KEY" | swebench profiles set-key ... --stdin`',
        )
    keyed_provider(provider)
    profiles.require(provider, profile)
    key = read_key(provider, stdin=from_stdin, from_env=from_env, interactive=False)
    validate_key(provider, key, on_wait=ui_for(ctx, no_input, json_mode).wait_line)
    backend = keys.store_key(provider, key, profile=profile)
    _done(
        ctx,
        no_input,
        json_mode,
        f"{provider}: key validated and stored for profile {profile} ({backend})",
        provider=provider,
        profile=profile,
        account=keys.account(provider, profile),
        backend=backend,
    )


@command.command("clear-key")
@PROVIDER
@PROFILE
@global_options
@click.pass_context
def clear_key(ctx, provider: str, profile: str, no_input, json_mode) -> None:
    """Remove the profile's stored key."""
    from swebench_tasks import keys, profiles

    keyed_provider(provider)
    profiles.require(provider, profile)
    removed = keys.clear_key(provider, profile=profile)
    _done(
        ctx,
        no_input,
        json_mode,
        f"{provider}: {'key removed' if removed else 'no key was stored'} for {profile}",
        provider=provider,
        profile=profile,
        removed=removed,
    )


@command.command("rename")
@PROVIDER
@click.option("--from", "old", required=True, metavar="OLD")
@click.option("--to", "new", required=True, metavar="NEW")
@global_options
@click.pass_context
def rename(ctx, provider: str, old: str, new: str, no_input, json_mode) -> None:
    """Rename a profile (and move its key); refuses an existing name."""
    from swebench_tasks import profiles

    profiles.rename(provider, old, new)
    _done(ctx, no_input, json_mode, f"{provider}: renamed profile {old} to {new}", provider=provider, old=old, new=new)


@command.command("delete")
@PROVIDER
@PROFILE
@global_options
@click.pass_context
def delete(ctx, provider: str, profile: str, no_input, json_mode) -> None:
    """Delete a profile and its stored key."""
    from swebench_tasks import profiles

    profiles.delete(provider, profile)
    _done(ctx, no_input, json_mode, f"{provider}: deleted profile {profile}", provider=provider, profile=profile)
