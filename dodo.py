"""`doit list`, `doit preflight`, ... in a checkout: the graph for this directory's saved defaults.

The graph itself lives in swebench_tasks/tasks.py; `swebench doit ...` runs the same
graph from any directory.
"""

from swebench_tasks.tasks import dodo_namespace

globals().update(dodo_namespace())
