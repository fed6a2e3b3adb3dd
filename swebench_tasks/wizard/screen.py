"""What the screens share: the header every screen starts with, and the run screen that both
Quick Run (home) and Guided Setup's summary end on. It sits below both flows so neither has
to import the other, nor the home menu."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from swebench_tasks.ui import Ui
from swebench_tasks.wizard.prompts import Back, text


def header(ui: Ui, title: str) -> None:
    ui.clear()
    rule = "─" * min(ui.console.width, 72)
    ui.print(f"{rule}\n[bold]{title}[/]\n{rule}")


def run_screen(ui: Ui, workdir: Path, flags: dict, key: str | None = None) -> None:
    """`swebench run` with its progress and summary; then Enter exits and R reruns what failed."""
    from swebench_tasks.run import execute

    while True:
        ui.print("")
        summary = execute(ui, workdir, flags, key=key)
        ui.summary(summary)
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
