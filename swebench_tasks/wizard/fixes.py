"""The preflight screen: `swebench preflight` for the chosen selection, and when pulling the
first image fails, the registry fixes (`docker login`, another namespace, emulation), the
chosen one applied, and "Retry preflight"."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape

from swebench_tasks.ui import Ui
from swebench_tasks.wizard.connect import FAIL, OK
from swebench_tasks.wizard.prompts import Choice, choose, confirm, text

AMD64 = "linux/amd64"
READY = "Ready"  # the harness status once a preflight passed


@dataclass(frozen=True)
class Fix:
    label: str
    apply: Callable[[Ui, Path], None]


def run_preflight(ui: Ui, workdir: Path, flags: dict, key: str | None) -> str:
    """Preflight until it passes or the user moves on; the harness status for the summary."""
    from swebench_tasks.usecases import preflight

    while True:
        ui.print("")
        document, _ = preflight(ui, workdir, flags, key=key)
        ui.preflight(document)
        if document["ok"]:
            ui.print(f"  {OK} Preflight passed.")
            return READY
        error = document["error"]
        ui.print(f"  {FAIL} {escape(error['message'])}")
        if error.get("detail"):
            ui.print(escape(error["detail"]))
        if error.get("fix"):
            ui.print(f"  Fix: {escape(error['fix'])}")
        if "preflight:image" in document["tasks"]["failed"]:
            if not offer_registry_fixes(ui, workdir, flags):
                return f"not ready ({error['message']})"
        elif not confirm("Retry preflight?", default=True):
            return f"not ready ({error['message']})"


def registry_fixes(workdir: Path, flags: dict) -> list[Fix]:
    """What can fix a pull the registry refused: a login, another namespace, emulation (arm64)."""
    from swebench_tasks import engine, images
    from swebench_tasks.config import load_settings
    from swebench_tasks.errors import SwebenchError

    settings = load_settings(workdir, no_input=True, **flags)
    host = images.registry_host(images.fallback_namespace(settings) + "/x")
    fixes = [
        Fix(f"Run `docker login {host}` now", lambda ui, wd: login(ui, host)),
        Fix("Use another registry namespace (saved as SWEBENCH_DOCKER_NAMESPACE in .env)", namespace),
    ]
    try:
        arm = images.effective_arch(settings, engine.engine_info()) == "arm64"
    except SwebenchError:
        arm = False
    if arm:
        fixes.append(
            Fix(f"Run x86_64 images under emulation for this session (DOCKER_DEFAULT_PLATFORM={AMD64})", emulate)
        )
    return fixes


def offer_registry_fixes(ui: Ui, workdir: Path, flags: dict) -> bool:
    """Show the fixes, apply the chosen one; True to retry the preflight, False to move on."""
    ui.print("\n❌ The image pull was refused or could not reach its registry.")
    fixes = registry_fixes(workdir, flags)
    picked = choose(
        "How to fix:",
        [Choice(f, f.label) for f in fixes] + [Choice(None, "Skip: continue without a passing preflight")],
    )
    if picked is None:
        return False
    picked.apply(ui, workdir)
    return confirm("Retry preflight?", default=True)


def login(ui: Ui, host: str) -> None:
    """`docker login HOST` on this terminal (docker asks for the user and token itself)."""
    from swebench_tasks.images import docker_login

    ui.print(f"  {OK} Logged in to {host}." if docker_login(host) else f"  {FAIL} `docker login {host}` failed.")


def namespace(ui: Ui, workdir: Path) -> None:
    """Another registry namespace for the fallback images, saved to `.env`."""
    from swebench_tasks import files, images
    from swebench_tasks.config import Paths, save_defaults

    value = text(
        "Registry namespace (e.g. ghcr.io/epoch-research):",
        validate=lambda v: bool(images.NAMESPACE_RE.match(v.strip())),
        invalid="a registry path such as ghcr.io/org or host:port/org",
    ).strip()
    with files.hold(Paths(workdir)):
        save_defaults(workdir, {"SWEBENCH_DOCKER_NAMESPACE": value})
    ui.print(f"  {OK} Saved SWEBENCH_DOCKER_NAMESPACE={escape(value)} to {workdir / '.env'}")
    if os.environ.get("SWEBENCH_DOCKER_NAMESPACE"):
        ui.print("  Note: SWEBENCH_DOCKER_NAMESPACE is set in your environment, and it wins over .env.")


def emulate(ui: Ui, workdir: Path) -> None:
    """x86_64 images under emulation, for this session only (as images.py offers it)."""
    os.environ["DOCKER_DEFAULT_PLATFORM"] = AMD64
    ui.print(f"  {OK} DOCKER_DEFAULT_PLATFORM={AMD64} for this session.")
