"""`swebench clean`: remove run state, catalogs or the images this tool pulled."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from swebench_tasks.cli import global_options, ui_from
from swebench_tasks.config import Paths


def run_paths(paths: Paths) -> list[Path]:
    """Everything a run made: doit state, generations, contexts, run records, results, harness output."""
    keep = {paths.catalog, paths.datasets}
    state = [p for p in paths.state.iterdir() if p not in keep] if paths.state.exists() else []
    return state + [paths.results, paths.reports, paths.root / "logs"]


@click.command("clean")
@click.option("--runs", is_flag=True, help="Run state, generated patches, results and harness logs.")
@click.option("--catalog", is_flag=True, help="Cached model catalogs and datasets.")
@click.option("--images", is_flag=True, help="Instance images this tool pulled or tagged (nothing else).")
@click.option("--all", "all_", is_flag=True, help="All of the above.")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@global_options
@click.pass_context
def command(ctx, runs, catalog, images, all_, dry_run, no_input, json_mode) -> None:
    """Remove what earlier runs left behind. Nothing is removed without a flag."""
    ui = ui_from(ctx, no_input, json_mode)
    paths = Paths(Path.cwd())
    targets: list[Path] = []
    if runs or all_:
        targets += run_paths(paths)
    if catalog or all_:
        targets += [paths.catalog, paths.datasets]
    removed = [str(p) for p in targets if p.exists() or p.is_symlink()]
    if not dry_run:
        for path in targets:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists() or path.is_symlink():
                path.unlink()
    image_names: list[str] = []
    if images or all_:
        from swebench_tasks.images import remove_pulled

        image_names = remove_pulled(paths, dry_run=dry_run)
    if not (runs or catalog or images or all_):
        ui.line("nothing selected: pass --runs, --catalog, --images or --all (add --dry-run to preview)")
    if ui.json:
        ui.emit({"dry_run": dry_run, "paths": removed, "images": image_names})
        return
    verb = "would remove" if dry_run else "removed"
    for item in removed + image_names:
        ui.print(f"{verb} {item}", markup=False)
    if not removed and not image_names:
        ui.print("nothing to remove")
