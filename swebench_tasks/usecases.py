"""The use cases both fronts share: save the defaults, check a key live, preflight a selection.

They live in the core so the wizard need not import the CLI (nor the CLI the wizard's screens):
each front parses and prompts, then calls the same function with a Ui and any callbacks.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from swebench_tasks.errors import SwebenchError, UsageError

if TYPE_CHECKING:
    from swebench_tasks.providers import OnWait
    from swebench_tasks.ui import Ui


def write_config(
    workdir: Path, *, provider: str, model: str, dataset: str | None, count: int | None, agent: str | None = None
) -> dict[str, str]:
    """The saved defaults a later `swebench run` (and Quick Run) uses; every value is checked
    before anything is written, and it is refused while a run holds the working directory,
    whose settings it would change under it."""
    from swebench_tasks import files
    from swebench_tasks.config import PROVIDERS, Paths, check_text, save_defaults
    from swebench_tasks.datasets import resolve

    for flag, value in (("--provider", provider), ("--model", model), ("--dataset", dataset)):
        check_text(flag, value)
    if provider not in PROVIDERS:
        raise UsageError(f"unknown provider {provider!r}", fix=f"use one of: {', '.join(PROVIDERS)}")
    if count is not None and count < 0:
        raise UsageError(f"--count must be positive, got {count}", fix="pass e.g. --count 5")
    if dataset is not None:
        resolve(dataset, workdir)  # an alias, an existing file or a Hub id, else exit 2 with the fix
    # None leaves the saved value alone; 0 means the whole dataset.
    values = {
        "SWEBENCH_PROVIDER": provider,
        "SWEBENCH_MODEL": model,
        "SWEBENCH_DATASET": dataset,
        "SWEBENCH_COUNT": None if count is None else str(count),
        "SWEBENCH_AGENT": agent,
    }
    with files.hold(Paths(workdir)):
        save_defaults(workdir, values)
    from swebench_tasks import profiles

    active = profiles.active_profile(provider)
    if active:  # a named profile remembers its model (see config.profile_model)
        profiles.set_model(provider, active, model)
    return {k: v for k, v in values.items() if v is not None}


def validate_key(provider: str, key: str, on_wait: OnWait | None = None) -> None:
    """Ask the provider whether it accepts the key (AuthError/ProviderError: exit 3);
    `on_wait` hears of each rate-limit or backoff wait on the way."""
    if provider == "sb-cli":  # the hosted evaluator's key is checked by asking for its quotas
        from swebench_tasks.backends import sbcli

        sbcli.validate_key(key, on_wait)
        return
    from swebench_tasks.keys import key_fix
    from swebench_tasks.providers import get_provider

    get_provider(provider, key=key, on_wait=on_wait, key_fix=key_fix).validate_key()


def preflight(ui: Ui, workdir: Path, flags: dict, *, key: str | None = None) -> tuple[dict, SwebenchError | None]:
    """Run the preflight tasks for a selection: the document (checks, key, image, smoke, tasks,
    error) and the failure, for the front to show and to raise (or, in the wizard, to offer fixes).

    The wizard passes a `key` it has just validated and not stored.
    """
    from swebench_tasks import files
    from swebench_tasks.config import load_settings
    from swebench_tasks.run import resolve_key
    from swebench_tasks.stages import preflight as stage
    from swebench_tasks.stages.graph import run_graph
    from swebench_tasks.stages.runcontext import RunContext
    from swebench_tasks.ui import RunProgress

    settings = load_settings(workdir, no_input=ui.no_input, json=ui.json, **flags)
    ctx = RunContext(settings, ui)
    failure: SwebenchError | None = None
    with files.hold(settings.paths):
        try:
            ctx.key = key or (resolve_key(settings, ui) if settings.provider else None)
        except UsageError:
            pass  # the key task says so, in its place after the system checks
        with RunProgress(ui) as ctx.progress:
            try:
                run_graph(ctx, ["preflight"])
            except SwebenchError as exc:
                failure = exc
    return stage.summary(ctx, failure), failure
