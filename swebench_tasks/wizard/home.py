"""The home menu, Quick Run and Help & Docs: the top of the wizard, which opens the flows
(Guided Setup, Options); no flow imports it."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from swebench_tasks.errors import SwebenchError
from swebench_tasks.ui import Ui
from swebench_tasks.wizard.connect import LABELS, say_error
from swebench_tasks.wizard.options import options
from swebench_tasks.wizard.prompts import Back, Choice, choose, pause
from swebench_tasks.wizard.screen import header, run_screen
from swebench_tasks.wizard.setup import guided_setup, mode_rows

MENU = (
    ("quick", "Quick Run"),
    ("setup", "Guided Setup (recommended)"),
    ("help", "Help & Docs"),
    ("options", "Options: providers and profiles"),
)


def home(ui: Ui, workdir: Path) -> None:
    """`swebench` in a terminal. Esc leaves; a failed screen says why and returns here."""
    screens = {"quick": quick_run, "setup": guided_setup, "help": help_docs, "options": options}
    while True:
        header(ui, "🚀 SWE-bench Runner")
        ui.print("Welcome! What would you like to do?\n")
        try:
            picked = choose("Choose:", [Choice(k, label) for k, label in MENU], default="setup", esc="Esc: quit")
        except Back:
            return
        try:
            if screens[picked](ui, workdir) and picked in ("quick", "setup"):
                return  # a run (or a saved setup) ends the session
        except Back:
            continue
        except SwebenchError as exc:
            say_error(ui, exc)
            if exc.detail:
                ui.print(escape(exc.detail))
            pause("Press Enter to go back to the menu.")


def help_docs(ui: Ui, workdir: Path) -> bool:
    """The `swebench help` pane."""
    from swebench_tasks.helptext import HELP_TEXT

    header(ui, "Help & Docs")
    ui.print(HELP_TEXT, markup=False)
    pause("Press Enter to go back.")
    return False


def quick_run(ui: Ui, workdir: Path) -> bool:
    """The saved defaults, shown, then run on Enter; without a model, route to Setup."""
    from swebench_tasks import profiles
    from swebench_tasks.config import load_settings

    settings = load_settings(workdir)
    header(ui, "Quick Run")
    if not (settings.provider and settings.model):
        ui.print("Quick Run requires a configured model. Choose Setup first.")
        pause("Press Enter to start Guided Setup (Esc: back).")
        return guided_setup(ui, workdir)
    ui.print("Quick Run will use:")
    rows = [
        ("Provider", LABELS.get(settings.provider, settings.provider)),
        ("Profile", profiles.active_profile(settings.provider) or "default"),
        ("Model", settings.model),
        ("Dataset", settings.dataset),
        ("Count", str(settings.count) if settings.count else "all"),
        *mode_rows(settings, settings.count),
    ]
    for name, value in rows:
        ui.print(f"  • {name}: {escape(value)}")
    pause("Press Enter to run now (Esc: back).")
    run_screen(ui, workdir, {})
    return True
