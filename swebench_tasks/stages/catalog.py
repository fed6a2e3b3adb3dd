"""Stage `catalog:<provider>`: the provider's live model list (context sizes, prices), cached for a day."""

from __future__ import annotations

from collections.abc import Iterator

from swebench_tasks.stages.runcontext import RunContext

TTL_SECONDS = 24 * 3600


def tasks(ctx: RunContext) -> Iterator[dict]:
    from swebench_tasks.catalog import catalog_age

    s = ctx.settings
    yield {
        "basename": "catalog",
        "name": None,
        "doc": "The provider's live model list (context sizes, prices), cached for a day.",
    }
    if s.needs_provider and s.provider:
        path = ctx.catalog_file

        def fresh() -> bool:
            age = catalog_age(path)
            return age is not None and age < TTL_SECONDS

        yield {
            "basename": "catalog",
            "name": s.provider,
            "actions": [ctx.action(fetch)],
            "targets": [path],
            "uptodate": [fresh],
            "verbosity": 2,
        }


def fetch(ctx: RunContext) -> None:
    """Refresh the model list; skipped when this run resolved no key (nothing to generate)."""
    from swebench_tasks.catalog import fetch_catalog
    from swebench_tasks.providers import info

    if ctx.key is None and not info(ctx.settings.provider).public_catalog:
        return
    fetch_catalog(ctx.settings.chosen_provider(), ctx.key, ctx.catalog_file, on_wait=ctx.waiter("catalog"))
