"""How many typical model replies apply with `git apply --check`, before and after repair.

Scripted replies, not model calls: for small synthetic repositories, a correct diff is
damaged in the ways model diffs usually are (the defects of tests/test_diffs.py) and
wrapped as a model would wrap it (prose and a ```diff fence, or a bare diff between
prose). Each reply is then checked raw, after extract_diff, after repair_diff without
the files, and after repair_diff with them; "right" counts patches that apply and give
exactly the intended files.

    python benchmarks/apply_rate.py
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from swebench_tasks.diffs import check_apply, extract_diff, repair_diff  # noqa: E402
from tests.test_diffs import (  # noqa: E402
    BASE, DEFECTS, EDITED, applied_files, crlf, in_prose, intended_diff, lost_blank_context,
    make_repo, missing_prefixes, wrong_start,
)

REPOS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "calc": (BASE, EDITED),
    "config": (
        {
            "conf/loader.py": (
                "import json\n\n\n"
                "class Loader:\n"
                "    def __init__(self, path):\n"
                "        self.path = path\n\n"
                "    def load(self):\n"
                "        with open(self.path) as fh:\n"
                "            data = json.load(fh)\n\n"
                "        return data\n\n"
                "    def get(self, key, default=None):\n"
                "        data = self.load()\n"
                "        return data[key]\n"
            ),
            "conf/__init__.py": "from conf.loader import Loader\n",
        },
        {
            "conf/loader.py": (
                "import json\n\n\n"
                "class Loader:\n"
                "    def __init__(self, path):\n"
                "        self.path = path\n\n"
                "    def load(self):\n"
                "        with open(self.path, encoding='utf-8') as fh:\n"
                "            data = json.load(fh)\n\n"
                "        return data\n\n"
                "    def get(self, key, default=None):\n"
                "        data = self.load()\n"
                "        return data.get(key, default)\n"
            ),
            "conf/__init__.py": "from conf.loader import Loader\n\n__all__ = ['Loader']\n",
        },
    ),
    "text": (
        {
            "text/words.py": "".join(f"def helper_{i}(s):\n    return s[{i}:]\n\n\n" for i in range(12))
            + "def word_count(text):\n    return len(text.split(' '))\n\n\n"
            + "".join(f"def tail_{i}(s):\n    return s[:{i}]\n\n\n" for i in range(12)),
        },
        {
            "text/words.py": "".join(f"def helper_{i}(s):\n    return s[{i}:]\n\n\n" for i in range(12))
            + "def word_count(text):\n    return len(text.split())\n\n\n"
            + "".join(f"def tail_{i}(s):\n    return s[:{i}]\n\n\n" for i in range(12)),
        },
    ),
}


def bare(diff: str) -> str:
    return f"Sure, here is the patch:\n\n{diff}\nThis fixes the issue.\n"


def fenced(diff: str) -> str:
    return in_prose(diff)


WRAPPERS: dict[str, Callable[[str], str]] = {"fenced": fenced, "bare": bare}
CASES: dict[str, Callable[[str], str]] = {
    "none (correct diff)": lambda d: d,
    **DEFECTS,
    "all of them": lambda d: crlf(lost_blank_context(missing_prefixes(wrong_start(d)))),
}
STAGES = ("raw reply", "extracted", "repaired", "repaired+files", "right (+files)")


def measure(work: Path) -> dict[str, list[int]]:
    """Per case: how many replies pass each stage, plus the number of replies (last)."""
    counts = {case: [0] * (len(STAGES) + 1) for case in CASES}
    for name, (base, edited) in REPOS.items():
        repo = make_repo(work / name, base)
        good = intended_diff(repo, edited)
        for case, defect in CASES.items():
            for wrap in WRAPPERS.values():
                reply = wrap(defect(good))
                extracted = extract_diff(reply)
                with_files = repair_diff(extracted, base)
                passed = [check_apply(reply, repo).ok, check_apply(extracted, repo).ok,
                          check_apply(repair_diff(extracted), repo).ok,
                          check_apply(with_files, repo).ok]
                right = passed[-1] and applied_files(repo, with_files, list(edited)) == edited
                for i, ok in enumerate([*passed, right]):
                    counts[case][i] += ok
                counts[case][-1] += 1
    return counts


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        counts = measure(Path(tmp))
    width = max(map(len, CASES))
    print(f"{'defect':<{width}}  " + "  ".join(f"{s:>14}" for s in STAGES))
    totals = [0] * (len(STAGES) + 1)
    for case, row in counts.items():
        n = row[-1]
        print(f"{case:<{width}}  " + "  ".join(f"{c:>9}/{n:<4}" for c in row[:-1]))
        totals = [t + c for t, c in zip(totals, row)]
    n = totals[-1]
    print(f"{'total':<{width}}  " + "  ".join(f"{100 * c / n:>13.0f}%" for c in totals[:-1]))


if __name__ == "__main__":
    main()
