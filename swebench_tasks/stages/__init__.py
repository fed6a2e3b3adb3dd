"""The spine: the doit task graph, one module per stage (see README.md); `graph.py` composes it."""
