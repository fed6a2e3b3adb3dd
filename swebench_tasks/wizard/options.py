"""Options: providers and profiles, action first (pick what to do, then what to do it to).

Each action calls what `swebench profiles ...` and `swebench secrets ...` call; setting a
key goes through the same hidden, sanitised, live-validated prompt as Guided Setup.
Destructive actions name what changes and ask first. Esc goes back one level.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape

from swebench_tasks.errors import SwebenchError, UsageError
from swebench_tasks.ui import Ui
from swebench_tasks.wizard.connect import LABELS, OK, ask_key, say_error, show_waits
from swebench_tasks.wizard.prompts import Back, Choice, choose, confirm, pause, text
from swebench_tasks.wizard.screen import header

ACTIVE, INACTIVE = "●", "○"


@dataclass(frozen=True)
class Row:
    """One profile as `swebench profiles list --json` reports it."""

    provider: str
    profile: str
    active: bool
    model: str | None
    account: str
    key_stored: bool | None  # None: the provider needs no key

    @property
    def name(self) -> str:
        return f"{self.provider}/{self.profile}"

    @property
    def key_text(self) -> str:
        return {True: "key stored", False: "no key", None: "no key needed"}[self.key_stored]


def load_rows() -> list[Row]:
    from swebench_tasks import profiles

    return [Row(**row) for row in profiles.listing()]


def show(ui: Ui, rows: list[Row]) -> None:
    """Each provider with its profiles under it: active marked, key presence, saved model."""
    for provider, label in LABELS.items():
        ui.print(f"[bold]{label}[/] ({provider})")
        for r in (r for r in rows if r.provider == provider):
            mark = ACTIVE if r.active else INACTIVE
            ui.print(
                f"  {mark} {escape(r.profile):<16} {r.key_text:<14} model: {escape(r.model or '-')}"
                f"{'  (active)' if r.active else ''}"
            )
    ui.print(f"{ACTIVE} active (runs use its key and model)\n")


def options(ui: Ui, workdir: Path) -> None:
    """The Options screen; Esc returns to the home menu."""
    actions: dict[str, tuple[str, Callable[[Ui, Path, list[Row]], None]]] = {
        "add": ("Add a profile", add_profile),
        "set-key": ("Set or replace a key", set_key),
        "clear-key": ("Clear a key", clear_key),
        "activate": ("Make active", make_active),
        "rename": ("Rename", rename),
        "delete": ("Delete", delete),
        "models": ("List models", list_models),
    }
    while True:
        header(ui, "Options: providers and profiles")
        try:
            rows = load_rows()
        except UsageError as exc:  # e.g. a corrupted profiles file: report it, touch nothing
            say_error(ui, exc)
            pause("Press Enter to go back.")
            return
        show(ui, rows)
        try:
            action = choose("What would you like to do?", [Choice(k, v[0]) for k, v in actions.items()])
        except Back:
            return
        try:
            actions[action][1](ui, workdir, rows)
        except Back:
            continue
        except SwebenchError as exc:
            say_error(ui, exc)
        pause("Press Enter to continue.")


def pick(rows: list[Row], message: str, keep: Callable[[Row], bool], none: str) -> Row:
    """The target of an action, across every provider (none is preselected for you)."""
    targets = [r for r in rows if keep(r)]
    if not targets:
        raise UsageError(none)
    return choose(
        message,
        [
            Choice(r, f"{LABELS[r.provider]}: {r.profile}{' (active)' if r.active else ''} — {r.key_text}")
            for r in targets
        ],
        numbered=len(targets) <= 9,
    )


def add_profile(ui: Ui, workdir: Path, rows: list[Row]) -> None:
    from swebench_tasks import profiles

    provider = choose("Add a profile for which provider?", [Choice(p, label) for p, label in LABELS.items()])
    taken = {r.profile for r in rows if r.provider == provider}
    name = text(
        "Profile name:",
        validate=lambda v: _valid_name(v) and v.strip() not in taken,
        invalid="unused name of letters, digits, '.', '_' or '-' (at most 64)",
    ).strip()
    active = confirm(f"Make {provider}/{name} the active {provider} profile?", default=False)
    profiles.create(provider, name, active=active)
    ui.print(f"  {OK} Created {provider}/{escape(name)}{' (active)' if active else ''}")
    row = Row(provider, name, active, None, "", False if provider != "ollama" else None)
    if row.key_stored is not None and confirm("Set its key now?", default=True):
        store(ui, row)


def store(ui: Ui, row: Row) -> None:
    """Hidden input, sanitised, validated live, then stored: as `swebench profiles set-key`."""
    from swebench_tasks import keys

    key = ask_key(ui, row.provider)
    if key is None:  # skipped: nothing to store
        return
    backend = keys.store_key(row.provider, key, profile=row.profile)
    ui.print(
        f"  {OK} Key validated and stored for {row.name} (account {keys.account(row.provider, row.profile)}, {backend})"
    )


def set_key(ui: Ui, workdir: Path, rows: list[Row]) -> None:
    store(
        ui,
        pick(
            rows,
            "Set or replace the key of which profile?",
            lambda r: r.key_stored is not None,
            "no provider takes a key",
        ),
    )


def clear_key(ui: Ui, workdir: Path, rows: list[Row]) -> None:
    from swebench_tasks import keys

    row = pick(rows, "Clear the key of which profile?", lambda r: bool(r.key_stored), "no profile has a stored key")
    if not confirm(
        f"Remove the key stored for {row.name} from the keychain (account {row.account})? The profile stays.",
        default=False,
    ):
        return
    removed = keys.clear_key(row.provider, profile=row.profile)
    ui.print(f"  {OK} {'Key removed' if removed else 'No key was stored'} for {row.name}")


def make_active(ui: Ui, workdir: Path, rows: list[Row]) -> None:
    from swebench_tasks import profiles

    row = pick(rows, "Make which profile active?", lambda r: not r.active, "every profile is already active")
    profiles.set_active(row.provider, row.profile)
    ui.print(
        f"  {OK} {row.provider}: active profile is now {escape(row.profile)} (the next run uses its key and model)"
    )


def rename(ui: Ui, workdir: Path, rows: list[Row]) -> None:
    from swebench_tasks import profiles

    row = pick(
        rows,
        "Rename which profile?",
        lambda r: r.profile != "default",
        "only the default profiles exist, and they cannot be renamed",
    )
    new = text(
        f"New name for {row.name}:",
        validate=lambda v: _valid_name(v) and v.strip() != row.profile,
        invalid="a different name of letters, digits, '.', '_' or '-'",
    ).strip()
    existing = next((r for r in rows if r.provider == row.provider and r.profile == new), None)
    if existing is not None:
        if not confirm(
            f"{existing.name} already exists ({existing.key_text}, model "
            f"{existing.model or '-'}). Replace it: delete it and its key, then rename "
            f"{row.profile} to {new}?",
            default=False,
        ):
            return
        profiles.delete(existing.provider, existing.profile)
    profiles.rename(row.provider, row.profile, new)
    ui.print(f"  {OK} Renamed {row.name} to {row.provider}/{escape(new)}")


def _valid_name(name: str) -> bool:
    from swebench_tasks import profiles

    try:
        profiles.check_name(name.strip())
        return True
    except UsageError:
        return False


def delete(ui: Ui, workdir: Path, rows: list[Row]) -> None:
    from swebench_tasks import profiles

    row = pick(
        rows,
        "Delete which profile?",
        lambda r: r.profile != "default",
        "only the default profiles exist, and they cannot be deleted",
    )
    after = f" It is active: {row.provider}/default becomes active." if row.active else ""
    if not confirm(f"Delete {row.name} and its stored key ({row.key_text})?{after}", default=False):
        return
    profiles.delete(row.provider, row.profile)
    ui.print(f"  {OK} Deleted {row.name}")


def list_models(ui: Ui, workdir: Path, rows: list[Row]) -> None:
    """The live catalog with that profile's key, as `swebench models P --profile NAME`."""
    from rich.columns import Columns

    from swebench_tasks import keys
    from swebench_tasks.providers import get_provider, info

    row = pick(rows, "List the models of which profile?", lambda r: True, "no profiles")
    key = keys.resolve_key(row.provider, profile=row.profile, workdir=workdir)
    if key is None and row.key_stored is not None and not info(row.provider).public_catalog:
        raise UsageError(f"no {row.provider} key for {row.profile}", fix="set one with Options → Set or replace a key")
    with ui.console.status("Fetching model catalog..."):
        models = [
            m.id
            for m in get_provider(row.provider, key=key, on_wait=show_waits(ui), key_fix=keys.key_fix).list_models()
        ]
    ui.print(f"{row.name}: {len(models)} models")
    ui.print(Columns([escape(m) for m in models]))
