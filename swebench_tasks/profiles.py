"""Named provider profiles (e.g. personal/work keys): the operations behind `swebench profiles`.

config reads and writes the profiles file (names, the active profile, each profile's
model); a profile's key lives in the keychain under `{provider}:{profile}`, and moves or
goes with a rename or delete. The profile `default` always exists and uses the account
`{provider}`.
"""

from __future__ import annotations

import re

from swebench_tasks import keys
from swebench_tasks.config import DEFAULT_PROFILE, ProviderProfiles, load_profiles, save_profiles, saved_profile
from swebench_tasks.errors import UsageError
from swebench_tasks.keys import account, key_env
from swebench_tasks.providers import NAMES as PROVIDERS

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_provider(provider: str) -> None:
    if provider not in PROVIDERS:
        raise UsageError(f"unknown provider {provider!r}", fix=f"use one of: {', '.join(PROVIDERS)}")


def check_name(name: str) -> None:
    if not NAME.match(name or ""):
        raise UsageError(
            f"invalid profile name {name!r}", fix="use letters, digits, '.', '_' or '-' (at most 64, no ':')"
        )


def _get(provider: str, name: str) -> tuple[dict[str, ProviderProfiles], ProviderProfiles]:
    check_provider(provider)
    return saved_profile(provider, name)


# -- the operations behind `swebench profiles ...` ----------------------------------------


def active_profile(provider: str) -> str | None:
    """The active profile's name, or None for the default (keychain account `{provider}`)."""
    check_provider(provider)
    active = load_profiles()[provider].active
    return None if active == DEFAULT_PROFILE else active


def create(provider: str, name: str, *, active: bool = False, model: str | None = None) -> None:
    check_provider(provider)
    check_name(name)
    table = load_profiles()
    entry = table[provider]
    if name in entry.models:
        raise UsageError(
            f"{provider} profile {name!r} already exists",
            fix="pick another name, or `swebench profiles delete` it first",
        )
    entry.models[name] = model
    if active:
        entry.active = name
    save_profiles(table)


def set_active(provider: str, name: str) -> None:
    table, entry = _get(provider, name)
    entry.active = name
    save_profiles(table)


def set_model(provider: str, name: str, model: str | None) -> None:
    table, entry = _get(provider, name)
    entry.models[name] = model
    save_profiles(table)


def rename(provider: str, old: str, new: str) -> None:
    """Rename a profile and move its keychain entry; refuses to overwrite an existing name."""
    table, entry = _get(provider, old)
    check_name(new)
    if old == DEFAULT_PROFILE:
        raise UsageError("the default profile cannot be renamed", fix="create a new profile instead")
    if new in entry.models:
        raise UsageError(
            f"{provider} profile {new!r} already exists",
            fix=f"delete it first: `swebench profiles delete --provider {provider} --profile {new}`",
        )
    if key_env(provider):
        key = keys.read_key(provider, profile=old)
        if key is not None:
            keys.store_key(provider, key, profile=new)
    entry.models = {(new if n == old else n): m for n, m in entry.models.items()}
    if entry.active == old:
        entry.active = new
    save_profiles(table)
    if key_env(provider):
        keys.clear_key(provider, profile=old)


def delete(provider: str, name: str) -> None:
    """Forget a profile and its stored key; the default profile becomes active if it was."""
    table, entry = _get(provider, name)
    if name == DEFAULT_PROFILE:
        raise UsageError(
            "the default profile cannot be deleted", fix=f"clear its key with `swebench secrets clear {provider}`"
        )
    del entry.models[name]
    if entry.active == name:
        entry.active = DEFAULT_PROFILE
    save_profiles(table)
    if key_env(provider):
        keys.clear_key(provider, profile=name)


def require(provider: str, name: str) -> None:
    """UsageError unless the profile exists."""
    _get(provider, name)


def listing() -> list[dict]:
    """One row per profile for `profiles list` (key presence included, never the key)."""
    rows = []
    for provider, entry in load_profiles().items():
        for name, model in entry.models.items():
            has_key = None
            if key_env(provider):
                has_key = keys.key_status(provider, profile=name).in_keychain
            rows.append(
                {
                    "provider": provider,
                    "profile": name,
                    "active": name == entry.active,
                    "model": model,
                    "account": account(provider, name),
                    "key_stored": has_key,
                }
            )
    return rows
