"""The layout rules of ``docs/design.md``'s map, checked on the source with ``ast``.

Every import counts, also one inside a function (an import moved into a function to break a
cycle still makes a cycle: it only fails later, at the first call). A module that imports
``a.b.c`` also runs ``a/__init__.py`` and ``a/b/__init__.py`` first, so an import reaches the
packages above its target too, except the packages the importing module itself sits in
(Python has already started those).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Stages that must not know how they are driven: they import no engine, CLI or rules module.
STAGES = ("corpusclean.io", "corpusclean.steps", "corpusclean.minhash")
DRIVERS = (
    "corpusclean.engine",
    "corpusclean.worker",
    "corpusclean.executors",
    "corpusclean.cli",
    "corpusclean.rules",
    "corpusclean.ablate",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package: str) -> dict[str, Path]:
    """Every module of a top-level package by dotted name (packages by their ``__init__``)."""
    return {module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


def _targets(node: ast.AST, name: str, is_package: bool) -> Iterable[str]:
    """Dotted names an import statement may refer to (a module, or a name inside one)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        if node.level:  # relative: resolve against the importing module's package
            base = name.split(".") if is_package else name.split(".")[:-1]
            base = base[: len(base) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        yield module
        yield from (f"{module}.{alias.name}" for alias in node.names)


def import_graph(package: str) -> dict[str, set[str]]:
    """``module -> modules of the same top-level package it imports`` (anywhere in its code)."""
    known = modules(package)
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _targets(node, name, is_package):
                if target in known:
                    edges.add(target)
                    parts = target.split(".")
                    edges.update(
                        ".".join(parts[:i])
                        for i in range(1, len(parts))
                        if ".".join(parts[:i]) in known and ".".join(parts[:i]) not in own
                    )
        edges.discard(name)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return None


def all_imports(package: str) -> dict[str, set[str]]:
    """``module -> every dotted name it imports`` (any package), for the dependency rules."""
    result: dict[str, set[str]] = {}
    for name, path in modules(package).items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_package = path.name == "__init__.py"
        result[name] = {t for node in ast.walk(tree) for t in _targets(node, name, is_package)}
    return result


def test_cycle_finder_finds_a_cycle_and_accepts_a_tree() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_imports_inside_functions() -> None:
    graph = import_graph("corpusclean")
    # cli imports the engine inside its command functions only
    assert "corpusclean.engine" in graph["corpusclean.cli"]
    assert len(graph) > 30


def test_no_import_cycle_among_corpusclean_modules() -> None:
    cycle = find_cycle(import_graph("corpusclean"))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_trainer_imports_nothing_from_corpusclean() -> None:
    offenders = {
        module: sorted(t for t in targets if t.split(".")[0] == "corpusclean")
        for module, targets in all_imports("trainer").items()
    }
    assert not {m: t for m, t in offenders.items() if t}


@pytest.mark.parametrize("stage", STAGES)
def test_stages_import_no_driver(stage: str) -> None:
    imports = {m: t for m, t in all_imports("corpusclean").items() if m.startswith(stage)}
    assert imports, f"{stage}: no module found"
    offenders = {
        module: sorted(t for t in targets if t.startswith(DRIVERS))
        for module, targets in imports.items()
    }
    assert not {m: t for m, t in offenders.items() if t}


def _map_block(design: str) -> str:
    """The indented block of design.md's first section: the map itself."""
    section = design.split("\n## ", 2)[1]
    return "\n".join(line for line in section.splitlines() if line.startswith("    "))


def test_design_map_lists_every_folder_and_module() -> None:
    """``docs/design.md``'s map names every top-level module and folder of both packages."""
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    head = _map_block(text)
    missing = []
    for package in ("corpusclean", "trainer"):
        for entry in sorted((ROOT / package).iterdir()):
            if entry.name.startswith(("_", ".")) or entry.suffix not in ("", ".py"):
                continue
            if entry.is_dir() and not (entry / "__init__.py").exists():
                continue
            label = f"{entry.name}/" if entry.is_dir() else entry.name
            if label not in head:
                missing.append(f"{package}/{label}")
    assert not missing, f"docs/design.md's map does not mention: {missing}"


def test_design_map_names_only_modules_that_exist() -> None:
    """Every ``name.py`` in the map is a file of corpusclean/ or trainer/ (no stale entry)."""
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    head = _map_block(text)
    named = set(re.findall(r"\b(\w+\.py)\b", head))
    present = {
        p.name for package in ("corpusclean", "trainer") for p in (ROOT / package).rglob("*.py")
    }
    assert named, "the map names no module"
    assert not named - present, f"docs/design.md's map names missing modules: {named - present}"
