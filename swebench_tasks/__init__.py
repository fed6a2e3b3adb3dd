"""swebench-tasks: from nothing to a scored SWE-bench run, as a doit task graph."""

__version__ = "0.1.0"
