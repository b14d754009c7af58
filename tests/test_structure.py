"""The shape of the package: imports run one way, modules and functions stay small.

The import graph is read from the source with :mod:`ast` (every ``import`` and ``from ...
import``, at module level and inside functions, except under ``if TYPE_CHECKING``), so a
cycle that Python would only trip over at run time, or one hidden in a function body,
fails here. Each limit is the one docs/architecture.md states.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "hashlearn"
MAX_MODULE_LINES = 900
MAX_FUNCTION_LINES = 120

#: Modules that import nothing of hashlearn except other leaves; everyone may import them.
LEAVES = {
    "hashlearn._environment",
    "hashlearn._io",
    "hashlearn._numba",
    "hashlearn._progress",
    "hashlearn._registry",
    "hashlearn._torch",
    "hashlearn._validation",
    "hashlearn._version",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(inner) for inner in ast.walk(node))
    return skip


def _targets(module: str, node: ast.Import | ast.ImportFrom, modules: dict[str, Path]) -> list[str]:
    """The hashlearn modules an import statement loads (the nearest existing module)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".")
            if modules[module].name != "__init__.py":
                package = package[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, base] if base else package)
        names = [
            f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
            for alias in node.names
        ]
    found = []
    for name in names:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name.split(".")[0] == "hashlearn" and name != module:
            found.append(name)
    return found


def import_graph() -> dict[str, set[str]]:
    """``module -> {hashlearn modules it imports}``."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in skip:
                graph[name].update(_targets(name, node, modules))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_leaves_import_only_leaves():
    graph = import_graph()
    for leaf in sorted(LEAVES & set(graph)):
        outside = graph[leaf] - LEAVES
        assert not outside, f"{leaf} is a leaf but imports {sorted(outside)}"


def test_optional_dependencies_stay_out_of_import_hashlearn():
    import subprocess
    import sys

    code = (
        "import sys, hashlearn, hashlearn.hashers, hashlearn.index, hashlearn.evaluation; "
        "heavy = [m for m in ('torch', 'faiss', 'dask', 'distributed', 'fastapi') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("module", sorted(_modules()))
def test_module_size(module):
    lines = _modules()[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_MODULE_LINES, f"{module} has {lines} lines (limit {MAX_MODULE_LINES})"


def test_function_sizes():
    long = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name} ({length} lines)")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_reference_implementations_live_in_hashlearn_testing():
    """Test oracles are not library API: only hashlearn.testing defines ``*_reference``."""
    outside = []
    for name, path in _modules().items():
        if name == "hashlearn.testing" or name.startswith("hashlearn.testing."):
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name.endswith("_reference"):
                outside.append(f"{name}.{node.name}")
    assert not outside, f"reference implementations outside hashlearn.testing: {outside}"


def test_hashlearn_testing_exports_its_checks():
    import hashlearn.testing as testing

    for name in testing.__all__:
        assert callable(getattr(testing, name)) or name.isupper(), name
    assert {"check_hasher", "check_index", "hamming_distances_reference"} <= set(testing.__all__)


#: The data flow, left to right (docs/architecture.md): a package may import the leaves,
#: itself and the packages to its left, never one to its right. The metrics (evaluation)
#: are pure functions of codes and labels, so they sit just after codes: deep hashers
#: select their model by validation mAP during training.
FLOW = (
    "codes",
    "evaluation",
    "persistence",
    "features",
    "datasets",
    "hashers",
    "index",
    "records",
    "experiments",
    "report",
    "serve",
    "testing",
    "cli",
    "__main__",
)
#: Against their packages' rules whatever their places in the flow: metrics never search,
#: and reports read records, never the experiment code.
FORBIDDEN = {("evaluation", "index"), ("report", "experiments")}


def _part(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def test_imports_follow_the_data_flow():
    graph = import_graph()
    leaves = {_part(leaf) for leaf in LEAVES}
    wrong = []
    for module, imported in graph.items():
        source = _part(module)
        if module == "hashlearn" or source in leaves:
            continue
        assert source in FLOW, f"{module} has no place in the data flow (FLOW)"
        for target in imported - {"hashlearn"}:
            dest = _part(target)
            if dest in leaves or dest == source:
                continue
            if FLOW.index(dest) > FLOW.index(source) or (source, dest) in FORBIDDEN:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "imports against the data flow:\n" + "\n".join(sorted(wrong))
