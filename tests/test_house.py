"""How the house is built: imports run one way, no circle, small rooms, working examples.

The rules, bottom up: ``certs`` stands alone; in ``filters``, the codecs import nothing of
the rest, the shared parts only the codecs, and the filters receive the codec through a
``Toolkit`` instead of importing it; ``filters`` knows nothing of the proxy, the batch tools
or the command; the proxy reaches the filters only through their public surface (and the
codecs' format sniffing and the record), never torch; the batch tools never the proxy.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("veil", "proxy", "filters", "batch", "certs", "activities")
FILTER_MODULES = ("metadata", "pfgsm", "colorfool", "colorfool_search", "edgefool")
MAX_LINES = 300
REASON = "Longer than 300 lines:"  # what a file past the limit says at its top, and why


def source_files() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (REPO / package).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, *, module_level_only: bool = False) -> set[str]:
    """The modules a file imports (``from a import b`` counts ``a`` and ``a.b``), lazy imports
    inside functions included unless ``module_level_only``; ``TYPE_CHECKING`` blocks left out."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()

    def visit(node: ast.AST, depth: int) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            inner = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if module_level_only and inner:
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.add(child.module)
                # ``from package import module`` imports that module too.
                found.update(
                    f"{child.module}.{alias.name}"
                    for alias in child.names
                    if f"{child.module}.{alias.name}" in OURS
                )
            visit(child, depth + 1)

    visit(tree, 0)
    return found


OURS = {module_name(path): path for path in source_files()}
# Besides our own packages, the libraries whose place the rules decide.
WATCHED = (*PACKAGES, "torch", "matplotlib")


def our_imports(name: str, *, module_level_only: bool = False) -> set[str]:
    wanted = imports(OURS[name], module_level_only=module_level_only)
    return {module for module in wanted if module.split(".")[0] in WATCHED}


def starts(name: str, *prefixes: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


RULES: list[tuple[str, str, object]] = [
    # (what, rule, check(importer, imported) -> bool meaning "allowed")
    ("certs stands alone", "certs", lambda a, b: starts(b, "certs")),
    ("codecs import nothing of the filters above them", "filters.codecs",
     lambda a, b: not starts(b, "filters") or starts(b, "filters.codecs")),
    ("shared parts import only codecs and each other", "filters.shared",
     lambda a, b: not starts(b, "filters") or starts(b, "filters.codecs", "filters.shared")),
    ("filters know nothing of proxy, batch tools or the command", "filters",
     lambda a, b: not starts(b, "proxy", "batch", "veil", "certs", "matplotlib")),
    ("the proxy knows the filters' surface only, and no torch", "proxy",
     lambda a, b: not starts(b, "batch", "veil", "torch", "matplotlib", "filters")
     or b in ("filters", "filters.record", "filters.codecs.formats")),
    ("batch tools never import the proxy or the command", "batch",
     lambda a, b: not starts(b, "proxy", "veil")),
    ("activity filters know nothing of proxy, batch tools or the command", "activities",
     lambda a, b: not starts(b, "proxy", "batch", "veil", "certs", "matplotlib")),
]  # fmt: skip


@pytest.mark.parametrize(("what", "room", "allowed"), RULES, ids=[r[0] for r in RULES])
def test_imports_run_one_way(what, room, allowed):
    broken = [
        f"{name} imports {target}"
        for name in OURS
        if starts(name, room)
        for target in our_imports(name)
        if not allowed(name, target)
    ]
    assert broken == [], what


def test_filters_get_the_codec_through_their_toolkit():
    # The data types and the EXIF helpers, never decode, encode or the sizes.
    allowed = {"filters.codecs.photo", "filters.codecs.exif", "filters.codecs.errors"}
    for name in FILTER_MODULES:
        codec = {m for m in our_imports(f"filters.{name}") if starts(m, "filters.codecs")}
        assert codec <= allowed, name


def test_no_circle_of_module_level_imports():
    # Packages' __init__ files re-export their modules, which import each other through the
    # package's name: the rooms are the modules.
    modules = {name for name, path in OURS.items() if path.name != "__init__.py"}
    graph = {name: our_imports(name, module_level_only=True) & modules - {name} for name in modules}
    done: set[str] = set()
    cycles: list[list[str]] = []

    def walk(node: str, path: list[str]) -> None:
        for target in sorted(graph[node]):
            if target in path:
                cycles.append([*path[path.index(target) :], target])
            elif target not in done:
                walk(target, [*path, target])
        done.add(node)

    for name in sorted(modules):
        walk(name, [name])
    assert cycles == []


def test_rooms_stay_small():
    long = [
        f"{path.relative_to(REPO)}: {count} lines"
        for path in source_files()
        if (count := len(path.read_text().splitlines())) > MAX_LINES
        and REASON not in "\n".join(path.read_text().splitlines()[:15])
    ]
    assert long == []


def test_the_proxy_loads_neither_the_batch_tools_nor_matplotlib():
    code = (
        "import sys, veil.cli, proxy.service, proxy.addons, proxy.api\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib' "
        "or m in ('batch.judge', 'batch.report', 'batch.bench', 'batch.files')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("name", sorted(n for n in OURS if not n.endswith("__main__")))
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
