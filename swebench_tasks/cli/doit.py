"""`swebench doit ARGS...`: doit's own command line on the same task graph, from any directory."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("doit", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False,
                                         "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(args: tuple[str, ...]) -> None:
    """Run doit (list, info, forget, run, preflight, ...) on this directory's task graph."""
    from swebench_tasks.config import load_settings
    from swebench_tasks.tasks import Graph, run_graph

    graph = Graph(load_settings(Path.cwd(), no_input=True))
    rc, _ = run_graph(graph, list(args), reporter=False)
    if graph.failure is not None:
        raise graph.failure
    sys.exit(rc)
