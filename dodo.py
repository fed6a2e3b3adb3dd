"""`doit list`, `doit preflight`, ... in a checkout: the graph for this directory's saved defaults.

The graph itself is composed in swebench_tasks/stages/graph.py; `swebench doit ...` runs the same
graph from any directory.
"""

from swebench_tasks.stages.graph import dodo_namespace

globals().update(dodo_namespace())
