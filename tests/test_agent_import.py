"""Importing mini-swe-agent through `swebench_tasks.agent.load` leaves no trace on the user:
no banner on stdout, no folder in their home, no variable from its `.env`, no litellm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, os, sys
from pathlib import Path
import swebench_tasks.agent.runner
lazy = "minisweagent" not in sys.modules
before = dict(os.environ)
from swebench_tasks.agent import load
load(Path(sys.argv[1]))
print(json.dumps({"lazy": lazy, "same_env": dict(os.environ) == before,
                  "litellm": any(m.split(".")[0] == "litellm" for m in sys.modules)}))
"""


def test_import_side_effects_are_contained(tmp_path: Path):
    state = tmp_path / ".swebench"
    (state / "mini-swe-agent").mkdir(parents=True)
    (state / "mini-swe-agent" / ".env").write_text("SMUGGLED_BY_MSWEA=1\nMSWEA_MODEL_NAME=x\n")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSWEA_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(state)], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"lazy": True, "same_env": True, "litellm": False}  # one JSON line only
    assert "mini-swe-agent" not in out.stderr
    assert not any(home.rglob("*"))  # nothing written to the user's config dir
