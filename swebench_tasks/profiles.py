"""Named provider profiles (e.g. personal/work keys), kept as JSON in the config dir.

`SWEBENCH_CONFIG_DIR`, else the user config dir `swebench-runner` (platformdirs, else XDG).
The file holds names, the active profile and each profile's model: never a key (keys
live in the keychain under `{provider}:{profile}`). The profile `default` always exists
and uses the account `{provider}`. A corrupted file is reported and left as it is;
every write replaces the file atomically.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from swebench_tasks.errors import UsageError
from swebench_tasks.files import write_atomic
from swebench_tasks.keys import DEFAULT_PROFILE, account, key_env
from swebench_tasks.providers import NAMES as PROVIDERS

APP = "swebench-runner"
FILE = "profiles.json"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def config_dir() -> Path:
    """Where profiles (and the fingerprint salt) live."""
    explicit = os.environ.get("SWEBENCH_CONFIG_DIR", "").strip()
    if explicit:
        return Path(explicit).expanduser()
    try:
        from platformdirs import user_config_dir
    except ImportError:
        base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return Path(base) / APP
    return Path(user_config_dir(APP, appauthor=False))


def profiles_path() -> Path:
    return config_dir() / FILE


@dataclass
class ProviderProfiles:
    """One provider's profiles: name -> saved model (or None), and which one is active."""

    active: str = DEFAULT_PROFILE
    models: dict[str, str | None] = field(default_factory=lambda: {DEFAULT_PROFILE: None})

    def to_json(self) -> dict:
        return {"active": self.active, "profiles": {n: {"model": m} for n, m in self.models.items()}}


def load() -> dict[str, ProviderProfiles]:
    """Every provider's profiles; a missing file means only the implicit defaults."""
    path = profiles_path()
    table = {p: ProviderProfiles() for p in PROVIDERS}
    try:
        text = path.read_text()
    except FileNotFoundError:
        return table
    except (OSError, UnicodeDecodeError) as exc:
        raise _corrupt(path, str(exc)) from None
    try:
        data = json.loads(text)
        for provider, entry in data.get("providers", {}).items():
            if provider not in table:
                continue
            models = {str(n): (v or {}).get("model") for n, v in entry.get("profiles", {}).items()}
            models.setdefault(DEFAULT_PROFILE, None)
            active = entry.get("active") or DEFAULT_PROFILE
            table[provider] = ProviderProfiles(active=active if active in models else DEFAULT_PROFILE, models=models)
    except (ValueError, AttributeError, TypeError) as exc:
        raise _corrupt(path, f"not valid profiles JSON ({exc})") from None
    return table


def save(table: dict[str, ProviderProfiles]) -> Path:
    """Write the table atomically (temp file in the same dir, then rename)."""
    path = profiles_path()
    doc = {"version": 1, "providers": {p: t.to_json() for p, t in table.items()}}
    write_atomic(path, json.dumps(doc, indent=2) + "\n")
    return path


def _corrupt(path: Path, why: str) -> UsageError:
    return UsageError(
        f"cannot read profiles file {path}: {why}", fix=f"fix or move away {path} (it was left untouched)"
    )


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
    table = load()
    if name not in table[provider].models:
        raise UsageError(
            f"no {provider} profile named {name!r}",
            fix=f"see `swebench profiles list`, or `swebench profiles create --provider {provider} --profile {name}`",
        )
    return table, table[provider]


# -- the operations behind `swebench profiles ...` ----------------------------------------


def active_profile(provider: str) -> str | None:
    """The active profile's name, or None for the default (keychain account `{provider}`)."""
    check_provider(provider)
    active = load()[provider].active
    return None if active == DEFAULT_PROFILE else active


def profile_model(provider: str, name: str | None = None) -> str | None:
    """The model saved for a profile (the active one if `name` is None)."""
    check_provider(provider)
    name = name or load()[provider].active
    _, entry = _get(provider, name)
    return entry.models[name]


def create(provider: str, name: str, *, active: bool = False, model: str | None = None) -> None:
    check_provider(provider)
    check_name(name)
    table = load()
    entry = table[provider]
    if name in entry.models:
        raise UsageError(
            f"{provider} profile {name!r} already exists",
            fix="pick another name, or `swebench profiles delete` it first",
        )
    entry.models[name] = model
    if active:
        entry.active = name
    save(table)


def set_active(provider: str, name: str) -> None:
    table, entry = _get(provider, name)
    entry.active = name
    save(table)


def set_model(provider: str, name: str, model: str | None) -> None:
    table, entry = _get(provider, name)
    entry.models[name] = model
    save(table)


def rename(provider: str, old: str, new: str) -> None:
    """Rename a profile and move its keychain entry; refuses to overwrite an existing name."""
    from swebench_tasks import keys

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
    save(table)
    if key_env(provider):
        keys.clear_key(provider, profile=old)


def delete(provider: str, name: str) -> None:
    """Forget a profile and its stored key; the default profile becomes active if it was."""
    from swebench_tasks import keys

    table, entry = _get(provider, name)
    if name == DEFAULT_PROFILE:
        raise UsageError(
            "the default profile cannot be deleted", fix=f"clear its key with `swebench secrets clear {provider}`"
        )
    del entry.models[name]
    if entry.active == name:
        entry.active = DEFAULT_PROFILE
    save(table)
    if key_env(provider):
        keys.clear_key(provider, profile=name)


def require(provider: str, name: str) -> None:
    """UsageError unless the profile exists."""
    _get(provider, name)


def listing() -> list[dict]:
    """One row per profile for `profiles list` (key presence included, never the key)."""
    from swebench_tasks import keys

    rows = []
    for provider, entry in load().items():
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
