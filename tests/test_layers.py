"""The layers point one way: storage imports nothing above it, bot logic never imports the listeners, nothing
imports the composition root, and there is no import cycle among bot/, handlers/ and storage/ (lazy and
TYPE_CHECKING imports included, since each of those hid a cycle once)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "storage")
# The composition root: bot/app.py and the `paperbot` command, a package (bot/cli/) whose modules are all part of it.
COMPOSITION_ROOT = ("bot.app", "bot.cli")


def in_composition_root(module: str) -> bool:
    """`bot.app`, `bot.cli` and every module of the bot/cli package (`bot.cli.data`, ...)."""
    return module in COMPOSITION_ROOT or module.startswith("bot.cli.")


def module_name(path: Path) -> str:
    """`bot/digest/runner.py` -> `bot.digest.runner`; a package's `__init__.py` is the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every project module `path` imports, anywhere in the file (functions and TYPE_CHECKING blocks too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found.update(name for name in names if name in known)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports, for every module of bot/, handlers/ and storage/."""
    paths = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py") if "versions" not in p.parts]
    known = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, known) - {module_name(p)} for p in paths}


GRAPH = import_graph()


def test_the_graph_covers_every_layer() -> None:
    assert {"storage.db", "bot.app", "bot.digest.runner", "handlers.commands"} <= GRAPH.keys()


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.startswith("storage")))
def test_storage_imports_nothing_above_it(module: str) -> None:
    above = {m for m in GRAPH[module] if m.startswith(("bot", "handlers"))}
    assert not above, f"{module} imports {sorted(above)}: move what it needs into storage/"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.startswith("bot") and not in_composition_root(m)))
def test_bot_logic_never_imports_the_listeners(module: str) -> None:
    listeners = {m for m in GRAPH[module] if m.startswith("handlers")}
    assert not listeners, f"{module} imports {sorted(listeners)}: only bot/app.py wires handlers"


def importers_of_the_root(graph: dict[str, set[str]]) -> dict[str, list[str]]:
    """Module outside the composition root -> the root modules it imports."""
    found = {m: sorted(d for d in deps if in_composition_root(d)) for m, deps in graph.items()}
    return {m: root for m, root in found.items() if root and not in_composition_root(m)}


def test_nothing_imports_the_composition_root() -> None:
    assert importers_of_the_root(GRAPH) == {}


def test_the_root_imports_the_app_and_the_check_finds_an_importer() -> None:
    # The root's own edges are seen (the command builds the app), and a module reaching into it is caught.
    assert any("bot.app" in GRAPH[m] for m in GRAPH if in_composition_root(m))
    planted = {**GRAPH, "bot.scheduler": GRAPH["bot.scheduler"] | {"bot.cli.common"}}
    assert importers_of_the_root(planted) == {"bot.scheduler": ["bot.cli.common"]}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), as sorted lists.

    >>> cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}})
    [['a', 'b']]
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = _pop_group(stack, node)
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _pop_group(stack: list[str], root: str) -> list[str]:
    """Pop `stack` down to and including `root`: the members of `root`'s strongly connected group."""
    group: list[str] = []
    while not group or group[-1] != root:
        group.append(stack.pop())
    return group


def package_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph without a package's edge to its own `__init__` re-exports (a package importing its parts is
    not a cycle: Python loads the parts first)."""
    return {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}


def test_no_import_cycle() -> None:
    assert cycles(package_edges(GRAPH)) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    planted = {**GRAPH, "storage.models": GRAPH["storage.models"] | {"handlers.commands"}}
    assert cycles(package_edges(planted)) != []
