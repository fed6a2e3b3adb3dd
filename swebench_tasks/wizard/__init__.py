"""The interactive wizard: home menu, Guided Setup, Quick Run, Help & Docs, Options.

It asks questions, writes config through the use cases the CLI calls too (`usecases`) and
runs the task graph through `swebench_tasks.run.execute`; it holds no logic the CLI lacks.
Its modules import one way, from the home menu down to the prompts (README.md, `lint-imports`).
InquirerPy is imported inside the prompt functions, so importing this package stays cheap.
"""

from swebench_tasks.wizard.home import home
from swebench_tasks.wizard.setup import guided_setup

__all__ = ["home", "guided_setup"]
