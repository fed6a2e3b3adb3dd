"""`swebench clean`: remove run state, catalogs or the images this tool pulled."""

from __future__ import annotations

import shutil
from contextlib import nullcontext
from pathlib import Path

import click

from swebench_tasks import files
from swebench_tasks.cli import global_options, ui_from
from swebench_tasks.config import Paths


def run_paths(paths: Paths) -> list[Path]:
    """Everything a run made: doit state, generations, contexts, run records, results, harness output."""
    keep = {paths.catalog, paths.datasets, paths.lock}  # the lock file is shared by every holder
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
    selected = runs or catalog or images or all_
    # A dry run changes nothing, so it may look while a run holds the directory.
    with files.hold(paths) if selected and not dry_run else nullcontext():
        removed, image_names = remove(paths, runs or all_, catalog or all_, images or all_, dry_run)
    if not selected:
        ui.line("nothing selected: pass --runs, --catalog, --images or --all (add --dry-run to preview)")
    if ui.json:
        ui.emit({"dry_run": dry_run, "paths": removed, "images": image_names})
        return
    verb = "would remove" if dry_run else "removed"
    for item in removed + image_names:
        ui.print(f"{verb} {item}", markup=False)
    if not removed and not image_names:
        ui.print("nothing to remove")


def remove(paths: Paths, runs: bool, catalog: bool, images: bool, dry_run: bool) -> tuple[list[str], list[str]]:
    """The paths and image names removed (or, in a dry run, that would be)."""
    targets: list[Path] = []
    if runs:
        targets += run_paths(paths)
    if catalog:
        targets += [paths.catalog, paths.datasets]
    removed = [str(p) for p in targets if p.exists() or p.is_symlink()]
    if not dry_run:
        for path in targets:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists() or path.is_symlink():
                path.unlink()
    image_names: list[str] = []
    if images:
        from swebench_tasks.images import remove_pulled

        image_names = remove_pulled(paths, dry_run=dry_run)
    return removed, image_names
