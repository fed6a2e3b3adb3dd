"""The home menu, Quick Run, Help & Docs, and the run screen they share with Guided Setup."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from swebench_tasks.errors import SwebenchError
from swebench_tasks.ui import Ui
from swebench_tasks.wizard.connect import LABELS, say_error
from swebench_tasks.wizard.prompts import Back, Choice, choose, pause, text
from swebench_tasks.wizard.setup import guided_setup, header, mode_rows

MENU = (
    ("quick", "Quick Run"),
    ("setup", "Guided Setup (recommended)"),
    ("help", "Help & Docs"),
    ("options", "Options: providers and profiles"),
)


def home(ui: Ui, workdir: Path) -> None:
    """`swebench` in a terminal. Esc leaves; a failed screen says why and returns here."""
    from swebench_tasks.wizard.options import options

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


def run_screen(ui: Ui, workdir: Path, flags: dict, key: str | None = None) -> None:
    """`swebench run` with its progress and summary; then Enter exits and R reruns what failed."""
    from swebench_tasks.run import execute

    while True:
        ui.print("")
        summary = execute(ui, workdir, flags, key=key)
        failed = summary["unresolved"] + summary["errors"]
        ui.print(
            f"\n🎯 Passed: {summary['resolved']}   Failed: {failed}   "
            f"(of {summary['evaluated']} evaluated, {summary['selected']} selected)"
        )
        ui.print(
            f"📁 Results saved to {escape(summary['results_dir'])}"
            + (f" and {escape(summary['report_path'])}" if summary.get("report_path") else "")
        )
        try:
            answer = text(
                "Press Enter to exit, or type R to rerun failed only:",
                validate=lambda v: v.strip().lower() in ("", "r"),
                invalid="Enter, or R",
            ).strip()
        except Back:  # after a run there is nothing to go back to: Esc exits too
            return
        if answer.lower() != "r":
            return
        flags = {**flags, "rerun_failed": True}
