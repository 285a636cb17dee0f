"""The house rules of the source, checked on its text: layers import downwards only, no import
cycles, no private name crosses a module, modules and functions stay readable, every import
inside a function says why, and no module outside ``aelab/models`` names a model family."""

import ast
import re
from pathlib import Path

import pytest

from aelab.models import FAMILIES

SOURCE = Path(__file__).resolve().parents[1] / "src" / "aelab"
# Each top-level module or package of aelab, by layer: a module imports only lower layers and
# its own package (packages of one layer do not import each other).
LAYERS = {
    "errors": 0,
    "checks": 1,
    "cache": 1,
    "xla": 1,
    "prefetch": 1,
    "interrupts": 1,
    "models": 2,
    "data": 2,
    "analysis": 2,
    "config": 3,
    "training": 4,
    "outputs": 5,
    "cli": 6,
    "estimators": 6,
    "__main__": 7,
    "": 7,  # aelab/__init__.py: the public API
}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
LONG_FUNCTION_NOTE = "# long:"  # a comment in a longer function that says why


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(SOURCE.rglob("*.py")):
        parts = path.relative_to(SOURCE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


def _package(module: str) -> str:
    """The top-level package or module of ``aelab.x.y``: ``x`` (``""`` for aelab itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(module: str) -> list[tuple[str, list[str], ast.AST]]:
    """Every aelab module ``module`` imports (anywhere in it), the names it takes, the node."""
    out = []
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("aelab"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                target = sub if sub in MODULES else node.module
                out.append((target, [alias.name] if target == node.module else [], node))
        elif isinstance(node, ast.Import):
            out += [(a.name, [], node) for a in node.names if a.name.startswith("aelab")]
    return out


def test_every_top_level_part_has_a_layer():
    assert {_package(m) for m in MODULES} <= set(LAYERS)


def test_layers_import_downwards_only():
    upward = []
    for module in MODULES:
        here = _package(module)
        for target, _, _ in _imports(module):
            there = _package(target)
            if there != here and LAYERS[there] >= LAYERS[here]:
                upward.append(f"{module} imports {target}")
    assert not upward


def test_there_are_no_import_cycles():
    graph = {m: {t for t, _, _ in _imports(m) if t != m} for m in MODULES}
    done: set[str] = set()
    path: list[str] = []

    def visit(m: str) -> None:
        if m in path:
            cycle = path[path.index(m) :] + [m]
            raise AssertionError(" -> ".join(cycle))
        if m in done:
            return
        path.append(m)
        for t in graph[m]:
            visit(t)
        path.pop()
        done.add(m)

    for m in MODULES:
        visit(m)


def test_no_private_name_crosses_a_module():
    crossing = []
    for module in MODULES:
        aliases = {}
        for target, names, node in _imports(module):
            if target == module:
                continue
            crossing += [f"{module}: {target}.{n}" for n in names if n.startswith("_")]
            if isinstance(node, ast.Import | ast.ImportFrom) and not names:
                for alias in node.names:
                    aliases[alias.asname or alias.name.split(".")[-1]] = target
        for node in ast.walk(TREES[module]):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                crossing.append(f"{module}: {aliases[node.value.id]}.{node.attr}")
    assert not crossing


@pytest.mark.parametrize("module", list(MODULES))
def test_modules_and_functions_stay_readable(module):
    path = MODULES[module]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_MODULE_LINES, f"{path.name} has {len(lines)} lines"
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            body = "\n".join(lines[node.lineno - 1 : node.end_lineno])
            assert length <= MAX_FUNCTION_LINES or LONG_FUNCTION_NOTE in body, (
                f"{module}.{node.name} has {length} lines and no '{LONG_FUNCTION_NOTE}' comment"
            )


@pytest.mark.parametrize("module", list(MODULES))
def test_imports_inside_functions_say_why(module):
    lines = MODULES[module].read_text(encoding="utf-8").splitlines()
    unexplained = []
    for function in ast.walk(TREES[module]):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Import | ast.ImportFrom):
                # a comment on the line, or above it (and above the imports it heads)
                row = node.lineno - 1
                while row > 0 and lines[row - 1].strip().startswith(("import ", "from ")):
                    row -= 1
                if "#" not in lines[node.lineno - 1] and not lines[row - 1].strip().startswith("#"):
                    unexplained.append(f"line {node.lineno}: {lines[node.lineno - 1].strip()}")
    assert not unexplained


def test_only_the_models_package_names_a_family():
    names = set(FAMILIES)
    classes = {f.model.__name__ for f in FAMILIES.values()}
    found = []
    for module, tree in TREES.items():
        if _package(module) == "models":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in names:
                found.append(f"{module}: {node.value!r} (line {node.lineno})")
            if (
                isinstance(node, ast.Name | ast.alias)
                and (getattr(node, "id", None) or getattr(node, "name", None)) in classes
            ):
                found.append(f"{module}: {node.id if isinstance(node, ast.Name) else node.name}")
    assert not found


def test_the_readme_layout_lists_every_package():
    readme = (SOURCE.parents[1] / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("## Layout") :]
    for package in {_package(m) for m in MODULES} - {"", "__main__"}:
        assert re.search(rf"^\s+{re.escape(package)}(/|\.py)", layout, re.M), package
