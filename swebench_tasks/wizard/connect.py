"""Connecting a model: the key (hidden, sanitised, validated live) and the live model list.

Guided Setup and Options share these screens, and they call the same functions as
`swebench secrets set` and `swebench models`: the wizard adds questions, not logic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape

from swebench_tasks.errors import AuthError, ProviderError, UsageError
from swebench_tasks.providers import info, infos
from swebench_tasks.ui import Ui
from swebench_tasks.wizard.prompts import Back, confirm, pick_or_type, secret

# The compute sources in the order the wizard offers them.
LABELS = {i.name: i.label for i in infos()}
OK, FAIL = "[green]✔[/]", "[red]✖[/]"


@dataclass
class Key:
    """A validated key and where it came from ("typed", or where the CLI found it)."""

    value: str | None
    source: str

    @property
    def typed(self) -> bool:
        return self.source == "typed"


def say_error(ui: Ui, exc: Exception) -> None:
    """One ✖ line with the error's fix, as the CLI would print it (unbroken, so paths copy whole)."""
    line = exc.line() if hasattr(exc, "line") else str(exc)
    ui.print(f"  {FAIL} {escape(line)}", soft_wrap=True)


def show_waits(ui: Ui):
    """Provider waits (a 429's Retry-After, a backoff) as lines on the screen, above any spinner."""
    from swebench_tasks.ui import waiting

    return lambda seconds, why: ui.print(f"  ⏳ {escape(waiting(seconds, why))}")


def validate_key(ui: Ui, provider: str, key: str) -> None:
    """The live check `swebench secrets set` makes; AuthError/ProviderError as it raises them."""
    from swebench_tasks import usecases

    with ui.console.status("Validating key..."):
        usecases.validate_key(provider, key, on_wait=show_waits(ui))
    ui.print(f"  Validating key... {OK}")


def ask_key(ui: Ui, provider: str, *, optional: bool = False) -> str | None:
    """Hidden input, sanitised and validated live; a refused key is explained and asked again.

    Esc goes back; with `optional` an empty answer means "no key" (OpenRouter's public catalog).
    """
    from swebench_tasks.keys import export_hint, has_keychain, sanitize_key

    meta = info(provider)
    name = meta.label.removesuffix(" API")
    if meta.key_env and not has_keychain():
        ui.print(
            f"  No OS keychain here, so a key typed now serves this session only. To skip this step, "
            f"press Esc, run `{export_hint(meta.key_env)}` in your shell, and start again."
        )
    while True:
        raw = secret(
            f"Enter your {name} key ({meta.key_hint}):",
            instruction="input hidden; Enter to skip" if optional else "input hidden",
        )
        if optional and not raw.strip():
            ui.print(f"  No key: the catalog is public, but a run will need {meta.key_env}.")
            return None
        try:
            key = sanitize_key(raw)
            validate_key(ui, provider, key)
            return key
        except AuthError as exc:
            say_error(ui, exc)
            ui.print(
                f"  The key was refused: check that you copied all of it and that it is active. "
                f"Get or create one at {meta.key_page}"
            )
            ui.print("  Paste another key, or press Esc to go back.")
        except UsageError as exc:
            say_error(ui, exc)
        except ProviderError as exc:
            say_error(ui, exc)
            if not confirm("Try again?", default=True):
                raise Back() from None


def existing_key(ui: Ui, provider: str, profile: str | None, workdir: Path) -> Key | None:
    """A key the CLI would use (environment, keychain, `.env` pointer), checked live; None if
    there is none or it is refused (the refusal is shown)."""
    from swebench_tasks import keys

    try:
        value = keys.resolve_key(provider, profile=profile, workdir=workdir)
    except UsageError as exc:
        say_error(ui, exc)
        return None
    if not value:
        return None
    status = keys.key_status(provider, profile=profile)
    where = (
        f"the environment ({status.env_var})"
        if status.in_environment
        else f"the keychain (account {status.account})"
        if status.in_keychain
        else "your .env pointer"
    )
    ui.print(f"  Found a key in {where}.")
    try:
        validate_key(ui, provider, value)
    except AuthError as exc:
        say_error(ui, exc)
        return None
    return Key(value, where)


def connect_key(ui: Ui, provider: str, profile: str | None, workdir: Path) -> Key:
    """The key for the chosen provider: one found and accepted, else one typed and accepted."""
    found = existing_key(ui, provider, profile, workdir)
    if found is not None:
        return found
    return Key(ask_key(ui, provider, optional=info(provider).public_catalog), "typed")


def pick_model(ui: Ui, provider: str, key: str | None, default: str | None = None) -> str:
    """The live model list with type-to-filter; a typed or curated id is proven by one request."""
    from swebench_tasks.keys import key_fix
    from swebench_tasks.providers import get_provider

    client = get_provider(provider, key=key, on_wait=show_waits(ui), key_fix=key_fix)
    with ui.console.status("Fetching model catalog... (this may take a moment)"):
        models = [m.id for m in client.list_models()]
    curated = bool(getattr(client, "curated", False))
    if curated:
        ui.print("  The live listing is unavailable; these are example picks (each is checked when chosen).")
    while True:
        model = pick_or_type(
            f"Pick a model ({len(models)} available):", models, "Enter another model id…", default=default
        )
        if model in models and not curated:
            return model
        try:
            with ui.console.status(f"Checking {model} with a one-token request..."):
                client.check_model(model)
            ui.print(f"  {escape(model)} answers. {OK}")
            return model
        except ProviderError as exc:
            say_error(ui, exc)


def pick_ollama_model(ui: Ui, default: str | None = None) -> str:
    """Ollama at OLLAMA_HOST: its local models, or a name to pull (with progress)."""
    from swebench_tasks.providers import get_provider
    from swebench_tasks.providers.ollama import Ollama

    client = get_provider("ollama", on_wait=show_waits(ui))
    assert isinstance(client, Ollama)  # detect() and pulls are Ollama's own
    while not client.detect():
        ui.print(f"  {FAIL} No Ollama server answers at {client.base_url}")
        ui.print("    Fix: start it with `ollama serve`, or set OLLAMA_HOST to where it runs.")
        if not confirm("Check again?", default=True):
            raise Back()
    ui.print(f"  {OK} Ollama detected at {client.base_url}")
    models = [m.id for m in client.list_models()]
    ui.print(f"  Local models: {len(models)}" + ("" if models else " (type a name to pull one)"))
    while True:
        name = pick_or_type(
            "Pick a local model, or type a name to pull:", models, "Type a name to pull…", default=default
        )
        if name in models:
            return name
        try:
            pull(ui, client, name)
            return name
        except ProviderError as exc:
            say_error(ui, exc)


def pull(ui: Ui, client, name: str) -> None:
    """`ollama pull` with a progress bar per layer."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=ui.console) as bar:
        task = bar.add_task(f"Pulling {name}", total=None)

        def update(status: str, completed: int | None, total: int | None) -> None:
            bar.update(task, description=f"Pulling {name}: {status}", completed=completed or 0, total=total)

        client.pull(name, on_progress=update)
    ui.print(f"  {OK} Pulled {escape(name)}")
