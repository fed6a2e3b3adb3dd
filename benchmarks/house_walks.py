"""The house (issue 12) in figures for one commit: the import graph, three parameter walks and
the files four changes touch, counted the same way at every commit.

    python benchmarks/house_walks.py COMMIT [COMMIT ...]

Each COMMIT is checked out with `git worktree add --detach` into a temporary folder (removed at
the end) and read as source text; nothing of it is imported or run. One process per commit,
as grimp finds the package through `sys.path`.

(a) Import graph: `benchmarks/import_graph.py`'s `main()`, pointed at the checkout (modules,
    edges counting imports inside functions, cycles without typing-only imports, longest chain
    through the condensed graph, biggest modules).

(b) Parameter walks. A walk is the set of package modules in which the value of
    `swebench run --model X`, of the provider API key that run uses, or of
    `swebench run --max-workers N` is *named*: read, passed on or used under one of the names
    in `WALKS`. Every module is searched with every name (comments and docstrings removed
    first); a module is on the walk if one name matches in it, unless the name's `skip` lists
    the module because there the same spelling is another value (each skip says why). The
    names are the union over the commits measured, so a name that does not exist at a commit
    simply does not match. Each name is tagged:
      - "path": on the way from the flag (or, for the key, from its sources: environment,
        keychain, `.env` pointer, the hidden prompt) to its final use: the provider's HTTP
        request body, the provider's auth header, doit's `num_process`, the harness's
        `--max_workers` (and the sb-cli submission pool);
      - "side": another use of the same value on the way (price lookup, context budget,
        generation key and record path, the harness's `model_name_or_path`).
    The walk's count is the number of modules matched by any name; the modules matched only by
    "side" names are counted apart. A tag belongs to the name, not to each occurrence: a
    `Settings.model` read counts as "path" even where it feeds a side use (e.g. `retrieval`).
    Not counted: modules that only carry an object holding the value (a `Settings`, a flags
    dict, a `Graph`, a provider object) without naming the value; modules of another entry
    (`swebench setup`, `preflight`, `models`, `secrets`, `profiles`, the wizard: see
    `OTHER_ENTRIES`, by module or `module::function`), which have their own flags, prompts or
    keys. Every match is printed with its line, so the count can be checked by eye.

(c) Files a change touches (package modules only; tests and docs not counted):
    - add a provider: the new provider file, plus every module holding a list, tuple, set or
      dict literal with 2+ provider names among its elements or keys, or a string literal
      naming 3+ of them as lower-case words (help texts; function docstrings too, as click
      shows a command's docstring as its help; module and class docstrings are not counted),
      where the provider names are the modules of `providers/` not starting with `_`.
      Special cases of one provider (`== "ollama"`) and tables keyed by model or key prefix
      (pricing, key masking) are not enumerations of providers and are not counted.
    - change the prompt: modules that assign `PROMPT_VERSION` or a module-level string whose
      name contains SYSTEM, PROMPT, TEMPLATE or INSTRUCTION (the prompt's text). Modules that
      only read them are listed apart.
    - add a preflight check: modules that construct `Check("<name>", ...)` with a literal name
      (where checks are defined and composed), plus modules with any other call whose first
      argument is a string literal equal to a check's name (a check's name: the first
      argument of a `Check(...)`; an f-string counts by its text before the first
      placeholder): those name individual checks elsewhere (e.g. `failed("docker engine", exc)`).
    - change how results print: modules that define or call the summary renderer
      (`def render` in a module named `report`, or `render` imported from it; `def summary` in
      a class `Ui`, or a call `ui.summary(...)`), or that print (`print`, `line`, `Table`) in a
      function that reads a string key of a dict named `summary` (and defines no inner
      function). Listed apart: the modules among them that only call the renderer (no printing
      of their own, no `ui.json` "JSON or render" branch around the call).
"""

from __future__ import annotations

import ast
import importlib.util
import io
import re
import subprocess
import sys
import tempfile
import tokenize
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = "swebench_tasks"

# Another entry reaches these names with its own value (not `swebench run`'s).
# `module::function` skips only the matches inside that function.
OTHER_ENTRIES = (
    "*.wizard.*",
    "*.cli.setup",
    "*.cli.models",
    "*.cli.secrets",
    "*.cli._keys",
    "*.cli.profiles",
    "*.cli.preflight",
    "*.usecases::write_config",
    "*.usecases::validate_key",
    "*.usecases::preflight",
    "*.usecases::_render_cached",
)


@dataclass(frozen=True)
class Name:
    """One spelling a value travels under (a regex over code without comments/docstrings)."""

    pattern: str
    note: str
    tag: str = "path"  # "path" or "side"
    skip: tuple[str, ...] = ()  # fnmatch patterns of modules (`module::function`) where it is another value
    why: str = ""  # why the skipped modules are skipped


# `ctx.settings` (the stages' RunContext) and `run.settings` (images' Run protocol) are spelled out
# for the reader; `\bsettings` alone already matches inside them.
SETTINGS = r"\b(?:settings|s|self\.settings|graph\.settings|g\.settings|ctx\.settings|run\.settings)"

WALKS: dict[str, list[Name]] = {
    "--model": [
        Name(r'option\(\s*"--model"', "the click flag"),
        Name(r'"model":\s*\("SWEBENCH_MODEL"', "Settings field <- flag/env/.env"),
        Name(r'flags\.get\("model"\)', "the flag decides whether the profile's model applies"),
        Name(SETTINGS + r"\.model\b", "Settings.model read"),
        Name(r"\bchosen_model\b", "Settings.chosen_model()"),
        Name(r"\.chat\(\s*model\b", "generation hands the id to Provider.chat"),
        Name(r"\bmodel_config\(", "agent: the id into the agent's model config"),
        Name(r"config\.model_name\b", "agent: the id from the config to Provider.chat"),
        Name(
            r'"model":\s*model\b',
            "provider HTTP request body (final use)",
            skip=("*.profiles", "*.report"),
            why="profiles: a profile's saved model; report: the summary's field (model_name, below)",
        ),
        Name(SETTINGS + r"\.model_name\b|\bdef model_name\b", "harness model_name_or_path", "side"),
        Name(
            r"\bmodel_name:\s*str\b",
            "harness/report paths keyed by model_name",
            "side",
            skip=("*.agent.*",),
            why="agent's model_name is matched by the path names above",
        ),
        Name(r"\bdef estimate\(\s*model\b|\bestimate\(\s*model\b", "price lookup", "side"),
        Name(r"\bdef budget_for\(\s*model\b", "context budget by model", "side"),
        Name(
            r"\bgeneration_key\(|\brecord_path\(",
            "generation key and record path",
            "side",
            skip=("*.preflight",),
            why="preflight's record_path is its own records' path",
        ),
    ],
    "API key": [
        Name(
            r"\bresolve_key\b",
            "resolution: environment, keychain, .env pointer, prompt",
            skip=("*.backends.sbcli",),
            why="sb-cli resolves its own service key",
        ),
        Name(r"\bget_password\(", "keychain read"),
        Name(r"\bdef read_dotenv\b", ".env source (the key var or pointer)"),
        Name(r"\bgetpass\.getpass\(", "hidden prompt source"),
        Name(r"\brun_key\b|\b_key\(graph\)", "Graph.run_key() / RunContext.run_key() / preflight._key"),
        Name(r"\b(?:graph|ctx)\.key\b", "the run's key on the Graph / RunContext"),
        Name(
            r"\bself\.key\b",
            "Graph.key / RunContext.key / provider .key",
            skip=("*.preflight", "*.backends.sbcli"),
            why="(stages.)preflight's _Step.key is a doit value name; sb-cli's is the service key",
        ),
        Name(r"\bget_provider\([^)]*\bkey=", "provider built with the key"),
        Name(r"\bdef fetch_catalog\([^)]*\bkey\b", "catalog fetch takes the key"),
        Name(r"\bcreate\(key=key\b|\bdef create\(key\b", "provider factory"),
        Name(r'\["Authorization"\]|\["x-api-key"\]', "auth header (final use)"),
        Name(r"\bsecret=self\.key\b|\bself\.secret\b", "key handed to Http (masking; headers)"),
    ],
    "--max-workers": [
        Name(r'option\(\s*"--max-workers"', "the click flag"),
        Name(r'"max_workers":\s*\("SWEBENCH_MAX_WORKERS"|"max_workers"\s*}', "Settings field <- flag/env/.env"),
        Name(SETTINGS + r"\.max_workers\b", "Settings.max_workers read"),
        Name(r'"num_process"', "doit num_process (final use)"),
        Name(r'"--max_workers"|\bmax_workers:\s*int\b', "harness --max_workers (final use)"),
    ],
}
# Broad spellings of each value: their matches off the walk are printed for a reader to judge.
HINTS = {
    "--model": r"\.model\b|\bmodel_name\b|\bmodel=",
    "API key": r"\.key\b|\bkey=|\bapi_key\b",
    "--max-workers": r"max_workers|num_process",
}
for _names in WALKS.values():  # the wizard and the other commands are other entries
    for _i, _n in enumerate(_names):
        _names[_i] = Name(_n.pattern, _n.note, _n.tag, _n.skip + OTHER_ENTRIES, _n.why)


# -- reading a checkout ---------------------------------------------------------------------


@dataclass
class Module:
    name: str
    path: Path
    source: str
    tree: ast.Module = field(init=False)
    code: str = field(init=False)  # the source with comments and docstrings blanked

    def __post_init__(self) -> None:
        self.tree = ast.parse(self.source)
        lines = self.source.splitlines()
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body
                if (
                    body
                    and isinstance(body[0], ast.Expr)
                    and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)
                ):
                    for i in range(body[0].lineno - 1, body[0].end_lineno or body[0].lineno):
                        lines[i] = ""
        for tok in tokenize.generate_tokens(io.StringIO(self.source).readline):
            if tok.type == tokenize.COMMENT:
                row, col = tok.start
                lines[row - 1] = lines[row - 1][:col]
        self.code = "\n".join(lines)
        self.scopes: list[tuple[int, int, str]] = [
            (n.lineno, n.end_lineno or n.lineno, n.name)
            for n in ast.walk(self.tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        ]

    def skipped(self, line: int, skip: tuple[str, ...]) -> bool:
        """True if `line` is in a skipped module, or in a skipped function of this module."""
        for s in skip:
            module, _, func = s.partition("::")
            if fnmatch(self.name, module) and (
                not func or any(a <= line <= b and name == func for a, b, name in self.scopes)
            ):
                return True
        return False

    def matches(self, pattern: str) -> list[int]:
        return [self.code.count("\n", 0, m.start()) + 1 for m in re.finditer(pattern, self.code)]


def read_modules(root: Path) -> list[Module]:
    out = []
    for path in sorted((root / PACKAGE).rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out.append(Module(".".join(parts), path, path.read_text()))
    return out


def short(name: str) -> str:
    return name.removeprefix(PACKAGE + ".")


# -- (a) import graph -----------------------------------------------------------------------


def graph_figures(root: Path) -> None:
    sys.path.insert(0, str(HERE))
    import import_graph

    sys.path.insert(0, str(root))
    spec = importlib.util.find_spec(PACKAGE)
    assert spec and spec.origin and Path(spec.origin).is_relative_to(root), spec
    import_graph.ROOT = root
    argv, sys.argv = sys.argv, [sys.argv[0]]
    try:
        import_graph.main()
    finally:
        sys.argv = argv


# -- (b) walks ------------------------------------------------------------------------------


def walk(modules: list[Module], names: list[Name], hint: str) -> None:
    """Print each name's matches and the walk; `hint` is a broad spelling whose other matches
    are listed for review, so a new name at another commit is not missed silently."""
    on: dict[str, set[str]] = {}
    for n in names:
        hits = []
        for m in modules:
            lines = [line for line in m.matches(n.pattern) if not m.skipped(line, n.skip)]
            if not lines:
                continue
            hits.append(f"{short(m.name)}:{','.join(map(str, lines))}")
            on.setdefault(m.name, set()).add(n.tag)
        own = [s for s in n.skip if s not in OTHER_ENTRIES]
        print(f"    [{n.tag}] {n.note}  /{n.pattern}/" + (f"  skip {', '.join(own)}: {n.why}" if own else ""))
        print(f"        {' '.join(hits) if hits else '-'}")
    path = sorted(m for m, tags in on.items() if "path" in tags)
    side = sorted(m for m, tags in on.items() if "path" not in tags)
    print(f"  walk: {len(on)} modules: {', '.join(map(short, sorted(on)))}")
    print(f"    by path names: {len(path)}; only by side names: {len(side)} ({', '.join(map(short, side)) or '-'})")
    rest = [
        f"{short(m.name)}:{','.join(map(str, lines))}"
        for m in modules
        if m.name not in on and (lines := [x for x in m.matches(hint) if not m.skipped(x, OTHER_ENTRIES)])
    ]
    print(f"    to review (match /{hint}/, not on the walk): {' '.join(rest) or '-'}")


# -- (c) changes ----------------------------------------------------------------------------


def add_provider(modules: list[Module]) -> list[str]:
    names = {
        m.name.rsplit(".", 1)[1]
        for m in modules
        if m.name.startswith(f"{PACKAGE}.providers.") and not m.name.rsplit(".", 1)[1].startswith("_")
    }
    word = re.compile(r"\b(" + "|".join(sorted(names)) + r")\b")
    out = []
    for m in modules:
        why = []
        prose = {  # module and class docstrings: read by developers, not shown to users
            id(n.body[0].value)
            for n in ast.walk(m.tree)
            if isinstance(n, (ast.Module, ast.ClassDef)) and n.body and isinstance(n.body[0], ast.Expr)
        }
        for node in ast.walk(m.tree):
            if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
                elts = node.elts
            elif isinstance(node, ast.Dict):
                elts = [k for k in node.keys if k is not None]
            else:
                elts = []
            found = {e.value for e in elts if isinstance(e, ast.Constant) and e.value in names}
            if len(found) >= 2:
                why.append(f"{node.lineno}")
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in prose
                and len(set(word.findall(node.value))) >= 3
            ):
                why.append(f"{node.lineno}(text)")
        if why:
            out.append(f"{short(m.name)}:{','.join(sorted(set(why), key=lambda s: int(s.split('(')[0])))}")
    return ["<providers/new.py>"] + out


PROMPT_NAME = re.compile(r"SYSTEM|PROMPT|TEMPLATE|INSTRUCTION")


def change_prompt(modules: list[Module]) -> tuple[list[str], list[str]]:
    defines, reads = [], []
    for m in modules:
        lines = []
        for node in m.tree.body:
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    if (
                        isinstance(t, ast.Name)
                        and t.id.isupper()
                        and PROMPT_NAME.search(t.id)
                        and (
                            t.id == "PROMPT_VERSION"
                            or (isinstance(node.value, ast.Constant) and isinstance(node.value.value, str))
                        )
                    ):
                        lines.append(str(node.lineno))
        if lines:
            defines.append(f"{short(m.name)}:{','.join(lines)}")
        elif m.matches(r"\bPROMPT_VERSION\b"):
            reads.append(short(m.name))
    return defines, reads


def check_names(modules: list[Module]) -> set[str]:
    names = set()
    for m in modules:
        for node in ast.walk(m.tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Check" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names.add(first.value)
                elif isinstance(first, ast.JoinedStr) and first.values and isinstance(first.values[0], ast.Constant):
                    names.add(str(first.values[0].value))
    return names


def add_check(modules: list[Module]) -> tuple[list[str], list[str]]:
    names = check_names(modules)
    build, name = [], []
    for m in modules:
        calls = [
            str(n.lineno)
            for n in ast.walk(m.tree)
            if isinstance(n, ast.Call)
            and getattr(n.func, "id", None) == "Check"
            and n.args
            and isinstance(n.args[0], (ast.Constant, ast.JoinedStr))
        ]
        if calls:
            build.append(f"{short(m.name)} ({len(calls)} Check calls)")
            continue
        hits = sorted(
            {
                str(n.lineno)
                for n in ast.walk(m.tree)
                if isinstance(n, ast.Call)
                and n.args
                and isinstance(n.args[0], ast.Constant)
                and n.args[0].value in names
            },
            key=int,
        )
        if hits:
            name.append(f"{short(m.name)}:{','.join(hits)}")
    return build, name


PRINTS = re.compile(r"\.(print|line)\(|\bTable\(|\bprint\(")


def _enclosing(tree: ast.Module, line: int) -> ast.FunctionDef | None:
    """The innermost function around `line`, if any."""
    best = None
    for n in ast.walk(tree):
        if isinstance(n, ast.FunctionDef) and n.lineno <= line <= (n.end_lineno or n.lineno):
            if best is None or n.lineno >= best.lineno:
                best = n
    return best


def results_print(modules: list[Module]) -> tuple[list[str], list[str]]:
    """The modules (with why), and those of them that only call the renderer: no printing of
    their own and no "JSON or render" branch (`ui.json`) around the call."""
    out, calls_only = [], []
    for m in modules:
        why, calls = [], []
        is_report = m.name.rsplit(".", 1)[-1] == "report" and not m.name.startswith(f"{PACKAGE}.cli")
        ui_summary = {  # `Ui.summary`: the renderer once it moved to the Ui (JSON or the table)
            id(f)
            for c in ast.walk(m.tree)
            if isinstance(c, ast.ClassDef) and c.name == "Ui"
            for f in c.body
            if isinstance(f, ast.FunctionDef) and f.name == "summary"
        }
        for node in ast.walk(m.tree):
            if isinstance(node, ast.FunctionDef):
                if node.name == "render" and is_report:
                    why.append(f"def render:{node.lineno}")
                    continue
                if id(node) in ui_summary:
                    why.append(f"def Ui.summary:{node.lineno}")
                    continue
                text = ast.unparse(node)
                reads = re.search(r"\bsummary(\[['\"]|\.get\(['\"])", text)
                own = [n for n in node.body if isinstance(n, ast.FunctionDef)]
                if reads and PRINTS.search(text) and not own:
                    why.append(f"{node.name}:{node.lineno}")
            if (
                isinstance(node, ast.ImportFrom)
                and (node.module or "").endswith(".report")
                and any(a.name == "render" for a in node.names)
            ):
                why.append(f"render call:{node.lineno}")
                calls.append(node.lineno)
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "summary"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "ui"
            ):
                why.append(f"Ui.summary call:{node.lineno}")
                calls.append(node.lineno)
        if why:
            out.append(f"{short(m.name)} ({', '.join(why)})")
            if len(calls) == len(why) and not any(
                (f := _enclosing(m.tree, line)) is not None and re.search(r"\bui\.json\b", ast.unparse(f))
                for line in calls
            ):
                calls_only.append(short(m.name))
    return out, calls_only


# -- driver ---------------------------------------------------------------------------------


def measure(root: Path) -> None:
    modules = read_modules(root)
    print("(a) import graph (benchmarks/import_graph.py)")
    sys.stdout.flush()
    graph_figures(root)
    print("\n(b) parameter walks")
    for param, names in WALKS.items():
        print(f"  {param}")
        walk(modules, names, HINTS[param])
    print("\n(c) files a change touches")
    providers = add_provider(modules)
    print(f"  add a provider: {len(providers)} files: {' '.join(providers)}")
    defines, reads = change_prompt(modules)
    print(f"  change the prompt: {len(defines)} files: {' '.join(defines)}  (read only: {' '.join(reads) or '-'})")
    build, name = add_check(modules)
    print(
        f"  add a preflight check: {len(build) + len(name)} files: {'; '.join(build)}"
        f"  + naming checks: {' '.join(name) or '-'}"
    )
    print(f"    check names: {', '.join(sorted(check_names(modules)))}")
    printing, calls_only = results_print(modules)
    print(f"  change how results print: {len(printing)} files: {'; '.join(printing)}")
    print(f"    of which only call the renderer (no printing, no JSON-or-render branch): {' '.join(calls_only) or '-'}")


def main() -> None:
    commits = sys.argv[1:]
    if not commits:
        sys.exit("usage: house_walks.py COMMIT [COMMIT ...]")
    if len(commits) > 1:  # one process per commit: grimp and import_graph keep module state
        for c in commits:
            subprocess.run([sys.executable, __file__, c], check=True)
        return
    commit = commits[0]
    repo = subprocess.run(
        ["git", "-C", str(HERE), "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
    ).stdout.strip()
    sha = subprocess.run(
        ["git", "-C", repo, "rev-parse", "--short", commit], capture_output=True, text=True, check=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="house-") as tmp:
        root = Path(tmp) / "tree"
        subprocess.run(["git", "-C", repo, "worktree", "add", "--detach", "-q", str(root), sha], check=True)
        try:
            subject = subprocess.run(
                ["git", "-C", repo, "log", "-1", "--format=%s", sha], capture_output=True, text=True, check=True
            ).stdout.strip()
            print(f"== {sha}: {subject}")
            measure(root)
        finally:
            subprocess.run(["git", "-C", repo, "worktree", "remove", "--force", str(root)], check=True)
    print()


if __name__ == "__main__":
    main()
