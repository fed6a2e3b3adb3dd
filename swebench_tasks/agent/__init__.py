"""Agent mode: mini-swe-agent works in an instance's image with our Provider as its model.

A service: it uses the providers' protocol and errors, never the task graph or a front.
mini-swe-agent is imported only through `load()`, which contains what importing it does:
it would create a config folder in the user's home, load that folder's `.env` into
`os.environ`, and print a banner (and, through a handler on its logger, log lines) to stdout.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import threading
from pathlib import Path
from types import ModuleType

NAME = "mini-swe-agent"
MODULES = (
    "minisweagent",
    "minisweagent.agents.default",
    "minisweagent.environments.docker",
    "minisweagent.exceptions",
    "minisweagent.models.utils.actions_toolcall",
    "minisweagent.models.utils.actions_text",
)
_lock = threading.Lock()


def load(state_dir: Path) -> dict[str, ModuleType]:
    """mini-swe-agent's modules, imported with its config folder under `state_dir`, no banner,
    its logger off stdout, and `os.environ` exactly as before."""
    import logging

    with _lock:
        saved = dict(os.environ)
        os.environ["MSWEA_GLOBAL_CONFIG_DIR"] = str(state_dir / "mini-swe-agent")
        os.environ["MSWEA_SILENT_STARTUP"] = "1"
        try:
            modules = {name: importlib.import_module(name) for name in MODULES}
        finally:
            for name in set(os.environ) - set(saved):
                del os.environ[name]
            for name, value in saved.items():
                if os.environ.get(name) != value:
                    os.environ[name] = value
        # Its RichHandler prints to stdout; let records go where our own logging sends them.
        logging.getLogger("minisweagent").handlers.clear()
        return modules


def version() -> str:
    """The installed mini-swe-agent's version, read from its source: an up-to-date rerun checks
    it, and neither importing the package nor importlib.metadata (~0.3 s) is cheap enough."""
    match = re.search(r'^__version__ = "([^"]+)"', (package_dir() / "__init__.py").read_text(), re.MULTILINE)
    return match.group(1) if match else "unknown"


def package_dir() -> Path:
    """Where mini-swe-agent is installed (its shipped configs), found without importing it."""
    spec = importlib.util.find_spec("minisweagent")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("minisweagent")
    return Path(next(iter(spec.submodule_search_locations)))
