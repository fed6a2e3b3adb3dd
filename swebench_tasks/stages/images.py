"""Stage `image:<id>`: each selected instance's image, pulled (with registry fix-ups) unless present.

Only where something runs in the image: a local evaluation, or an agent. The subtask has
no stamp file: it is up to date while the engine has the image.
"""

from __future__ import annotations

from collections.abc import Iterator

from swebench_tasks.stages.runcontext import RunContext, group


def tasks(ctx: RunContext) -> Iterator[dict]:
    yield from group(
        "image", "Each selected instance's image, pulled (with registry fix-ups) unless present.", _instances(ctx)
    )


def _instances(ctx: RunContext) -> Iterator[dict]:
    if not (ctx.uses_docker or ctx.agent_mode):
        return
    from swebench_tasks import engine, images

    tags = engine.local_tags()  # one listing answers for most images; the rest are asked by name
    for row in ctx.rows():
        expected = row.get("image")
        yield {
            "name": row["instance_id"],
            "actions": [ctx.action(images.ensure_image, row)],
            "uptodate": [lambda expected=expected: expected in tags or engine.is_present(expected)],
            "doc": f"Make {expected} present (pull, or fall back and tag).",
            "verbosity": 2,
        }
