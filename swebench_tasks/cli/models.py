"""`swebench models PROVIDER`: the provider's live model list."""

from __future__ import annotations

from pathlib import Path

import click

from swebench_tasks.cli import global_options, ui_from
from swebench_tasks.providers import NAMES


@click.command("models", help=f"List PROVIDER's models live ({', '.join(NAMES)}).")
@click.argument("provider")
@click.option("--search", metavar="TEXT", help="Only models whose id contains TEXT (case-insensitive).")
@click.option("--profile", metavar="NAME", help="Use this profile's key (default: the active profile).")
@global_options
@click.pass_context
def command(ctx, provider: str, search: str | None, profile: str | None, no_input, json_mode) -> None:
    from dataclasses import asdict

    from swebench_tasks import keys, profiles
    from swebench_tasks.errors import UsageError
    from swebench_tasks.providers import get_provider, info

    ui = ui_from(ctx, no_input, json_mode)
    profiles.check_provider(provider)
    key = None
    if keys.key_env(provider):
        profile = profile or profiles.active_profile(provider)
        optional = info(provider).public_catalog
        key = keys.resolve_key(
            provider, profile=profile, workdir=Path.cwd(), ask_secret=None if optional else ui.ask_secret
        )
        if key is None and not optional:
            raise UsageError(f"no {provider} key found", fix=keys.key_fix(provider, profile))
    client = get_provider(provider, key=key, on_wait=ui.wait_line, key_fix=keys.key_fix)
    models = client.list_models()
    if search:
        models = [m for m in models if search.lower() in m.id.lower()]
    curated = bool(getattr(client, "curated", False))
    if ui.json:
        ui.emit(
            {
                "provider": provider,
                "base_url": client.base_url,
                "count": len(models),
                "curated": curated,
                "models": [asdict(m) for m in models],
            }
        )
        return
    if curated:
        ui.line(f"{provider}: live listing unavailable; showing a curated list (each is checked when chosen)")
    for m in models:
        extra = []
        if m.context_length:
            extra.append(f"{m.context_length:,} ctx")
        if m.input_price is not None and m.output_price is not None:
            extra.append(f"${m.input_price * 1e6:.2f}/${m.output_price * 1e6:.2f} per 1M in/out")
        ui.print(m.id + (f"  ({', '.join(extra)})" if extra else ""), markup=False)
    if not models:
        ui.line(f"{provider}: no models" + (f" match {search!r}" if search else ""))
