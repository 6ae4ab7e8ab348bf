"""The package's structure, read from its source: layers that import only downwards, no import
circle, and ``__all__`` lists that name what other code imports."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from tests.helpers import REPO

PACKAGE = REPO / "src" / "samebits"

#: What each layer may import (besides the standard library and third-party packages).
ALLOWED = {
    "core": {"core"},
    "provenance": {"core", "provenance"},
    "ml": {"core", "provenance", "ml"},
    "paper": {"core", "provenance", "paper"},
    "config": {"core", "ml", "config"},
    "plan": {"core", "ml", "config", "plan"},
    "lifecycle": {"core", "provenance", "ml", "config", "plan", "lifecycle"},
    "diagnostics": {"core", "provenance", "ml", "paper", "config", "plan", "diagnostics"},
    "scaffold": {"core", "config", "scaffold"},
    "cli": {"samebits", "core", "provenance", "ml", "paper", "config", "plan", "diagnostics", "scaffold", "cli"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _runtime_nodes(tree: ast.AST, typing: bool = False):
    """Every node of the tree but those under ``if TYPE_CHECKING:`` (never imported at run
    time), unless ``typing``."""
    for node in ast.iter_child_nodes(tree):
        if not typing and isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node, typing)


def _imports(name: str, path: Path, typing: bool = False) -> list[tuple[str, list[str]]]:
    """(imported module, names taken from it) for every import in the file, at any depth
    (imports inside functions count: a circle hidden in a function is still a circle), and
    with ``typing`` those only a type checker reads too."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8")), typing):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((module, [alias.name for alias in node.names]))
    return found


def _edges(typing: bool = False) -> dict[str, set[str]]:
    """samebits module -> samebits modules it imports (``from pkg import module`` counts as
    importing the module); with ``typing``, for a type checker's sake too."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for module, names in _imports(name, path, typing):
            if not module.startswith("samebits"):
                continue
            targets = [f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES] or [module]
            graph[name].update(t for t in targets if t in MODULES and t != name)
    return graph


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "samebits"


def test_there_is_no_import_circle():
    graph = _edges(typing=True)  # a circle that only the type checker follows is a circle too
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circle = stack[stack.index(nxt) :] + [nxt]
                pytest.fail("import circle: " + " -> ".join(circle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_layers_import_only_what_they_may():
    wrong = []
    for name, targets in _edges().items():
        layer = _layer(name)
        if layer == "samebits":  # the package's face imports lazily, by name
            continue
        for target in targets:
            if _layer(target) not in ALLOWED[layer]:
                wrong.append(f"{name} imports {target}")
    assert not wrong, "\n".join(wrong)


#: What only a Snakemake run may do at its exit, and so only ``samebits.lifecycle`` imports: the
#: CLI, audit, lint and bench build a Plan that registers no exit handler and moves no file.
RUN_SIDE_EFFECTS = {"atexit", "os", "shutil", "samebits.core.fileio"}


def _imported(name: str) -> set[str]:
    """Every module the file imports, ``from pkg import module`` counted as the module."""
    return {m for module, names in _imports(name, MODULES[name]) for m in [module, *(f"{module}.{n}" for n in names)]}


def test_the_plan_registers_nothing_and_moves_nothing():
    assert not _imported("samebits.plan") & RUN_SIDE_EFFECTS, sorted(_imported("samebits.plan") & RUN_SIDE_EFFECTS)
    assert _imported("samebits.lifecycle") >= RUN_SIDE_EFFECTS  # the list names what the hooks do use


def test_every_module_lists_its_public_names():
    for name in MODULES:
        if name.count(".") < 2 and name not in (
            "samebits.plan",
            "samebits.lifecycle",
            "samebits.scaffold",
            "samebits.cli",
        ):
            continue  # a subpackage's __init__ (a docstring) or the package itself
        module = importlib.import_module(name)
        assert hasattr(module, "__all__"), f"{name} has no __all__"
        missing = [n for n in module.__all__ if not hasattr(module, n)]
        assert not missing, f"{name}.__all__ names {missing}, which it does not define"


def _importers() -> list[Path]:
    roots = [PACKAGE, REPO / "workflow" / "scripts", REPO / "bench", REPO / "tests", REPO / "tools"]
    return [p for root in roots for p in sorted(root.rglob("*.py"))]


def test_what_other_code_imports_is_in_the_public_names():
    wrong = []
    for path in _importers():
        name = _module_name(path) if path.is_relative_to(PACKAGE) else "outside"
        for module, names in _imports(name, path):
            if not module.startswith("samebits.") or module not in MODULES:
                continue
            exported = getattr(importlib.import_module(module), "__all__", None)
            if exported is None:
                continue
            for n in names:
                if f"{module}.{n}" not in MODULES and n not in exported:
                    wrong.append(f"{path.relative_to(REPO)}: {module}.{n} is not in its __all__")
    assert not wrong, "\n".join(wrong)


def test_the_public_api_resolves():
    import samebits

    for name in samebits.__all__:
        assert getattr(samebits, name) is not None, name
