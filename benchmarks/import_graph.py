"""The package's import graph in numbers (issue: the house), counting imports inside functions.

    python benchmarks/import_graph.py [--json]

Prints modules, import edges, the strongly connected groups (import cycles, typing-only
imports left out), the longest acyclic chain through the condensed graph, and the biggest
modules by lines. grimp reads the source; nothing of the package is imported.
"""

from __future__ import annotations

import ast
import json
import sys
from functools import cache
from pathlib import Path

import grimp

PACKAGE = "swebench_tasks"
ROOT = Path(__file__).resolve().parent.parent


def source_file(module: str) -> Path:
    path = ROOT / Path(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


@cache
def typing_only_lines(module: str) -> frozenset[int]:
    """Line numbers of the imports under `if TYPE_CHECKING:` in `module`."""
    tree = ast.parse(source_file(module).read_text())
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                for sub in ast.walk(inner):
                    if isinstance(sub, (ast.Import, ast.ImportFrom)):
                        lines.update(range(sub.lineno, (sub.end_lineno or sub.lineno) + 1))
    return frozenset(lines)


def edges(graph: grimp.ImportGraph) -> set[tuple[str, str]]:
    """Direct imports between the package's modules (inside functions too), without the
    `if TYPE_CHECKING:` ones."""
    out = set()
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            details = graph.get_import_details(importer=importer, imported=imported)
            skip = typing_only_lines(importer)
            if not details or any(d["line_number"] not in skip for d in details):
                out.add((importer, imported))
    return out


def cycles(nodes: set[str], arrows: set[tuple[str, str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module."""
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in arrows:
        succ[a].append(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in succ[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for n in sorted(nodes):
        if n not in index:
            visit(n)
    return groups


def longest_chain(nodes: set[str], arrows: set[tuple[str, str]], groups: list[list[str]]) -> int:
    """Modules on the longest import chain once each cycle counts as one node."""
    rep = {m: g[0] for g in groups for m in g}
    cnodes = {rep.get(n, n) for n in nodes}
    succ: dict[str, set[str]] = {n: set() for n in cnodes}
    for a, b in arrows:
        ra, rb = rep.get(a, a), rep.get(b, b)
        if ra != rb:
            succ[ra].add(rb)
    memo: dict[str, int] = {}

    def depth(n: str) -> int:
        if n not in memo:
            memo[n] = 1 + max((depth(s) for s in succ[n]), default=0)
        return memo[n]

    return max(depth(n) for n in cnodes)


def main() -> None:
    graph = grimp.build_graph(PACKAGE, include_external_packages=False)
    nodes = {m for m in graph.modules if m != PACKAGE}
    arrows = {(a, b) for a, b in edges(graph) if a in nodes and b in nodes}
    groups = cycles(nodes, arrows)
    sizes = [(len(source_file(m).read_text().splitlines()), m) for m in nodes]
    sizes.sort(reverse=True)
    result = {
        "modules": len(nodes),
        "edges": len(arrows),
        "cycles": groups,
        "longest_chain": longest_chain(nodes, arrows, groups),
        "biggest": [{"module": m, "lines": n} for n, m in sizes[:5]],
    }
    if "--json" in sys.argv:
        print(json.dumps(result, indent=2))
        return
    print(f"modules {result['modules']}, import edges {result['edges']}, "
          f"cycles {len(groups)}, longest chain {result['longest_chain']}")
    for g in groups:
        print("  cycle:", " <-> ".join(x.removeprefix(PACKAGE + ".") for x in g))
    for row in result["biggest"]:
        print(f"  {row['lines']:5d} lines  {row['module']}")


if __name__ == "__main__":
    main()
