"""The layers of docs/architecture.md hold: data flows one way, from the domain vocabulary up
through sources, quality, metrics, forecasting, indicators and alerting to the stages, and the
Dagster shell only wires the stages. Read from the import statements, not from a list of
modules kept by hand, so a new module is checked the day it is added."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "risk_pipelines"

# Each layer and the layers it may import (besides itself). A module's layer is its package
# under risk_pipelines (alerting's two halves are layers of their own).
CORE = {
    "": set(),  # the package's own __init__
    "domain": set(),
    "warehouse": {"domain"},
    "sources": {"domain"},
    "quality": {"domain", "sources"},
    "metrics": {"domain", "warehouse"},
    "forecasting": {"domain"},
    "indicators": {"domain"},
    "alerting.notification": {"domain", "warehouse"},  # the notification outbox
    "alerting.evaluation": {
        "domain", "warehouse", "metrics", "forecasting", "indicators", "alerting.notification",
    },
    "alerting": {"domain", "warehouse", "alerting.evaluation", "alerting.notification"},
    "reporting": {"domain", "warehouse", "alerting.notification"},
}  # fmt: skip
CORE["config"] = {"domain", "sources", "quality", "forecasting", "indicators",
                  "alerting.evaluation", "alerting.notification"}  # fmt: skip
CORE["stages"] = set(CORE) - {"stages"}
CORE["analysis"] = {"config", "warehouse"}
# The risk console: a web app over the warehouse, writing through the same core as the CLI.
CORE["console"] = {"config", "domain", "warehouse", "alerting", "alerting.notification",
                   "reporting"}  # fmt: skip
# The Dagster shell and the entry points may use every core layer.
SHELL = {
    "defs": set(CORE),
    "definitions": set(),
    "run_output": set(),
    "runs": {*CORE, "defs", "run_output"},
}
ENTRY = {
    "cli": {*CORE, *SHELL, "cli_alerts", "cli_dsa", "cli_console"},
    "cli_console": {*CORE, "console"},
    "cli_alerts": set(CORE),
    "cli_dsa": {*CORE, "runs", "run_output"},
}
ALLOWED = {**CORE, **SHELL, **ENTRY}

MAX_LINES = 400
MAX_PARAMETERS = 7
ENVIRONMENT_READER = "config"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    parts = module.split(".")[1:]
    if not parts:
        return ""
    if parts[0] == "alerting" and len(parts) > 1 and parts[1] in ("evaluation", "notification"):
        return f"alerting.{parts[1]}"
    return parts[0]


def imports_of(source: str) -> list[tuple[int, str]]:
    """(line, imported module) for every import of this package, at any depth of the file:
    a function-level import is as much a dependency as one at the top."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if _ours(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and _ours(node.module):
            found.append((node.lineno, node.module))
            # ``from risk_pipelines.sources import landing`` imports the landing module.
            found += [
                (node.lineno, f"{node.module}.{a.name}")
                for a in node.names
                if _is_module(f"{node.module}.{a.name}")
            ]
    return found


def _ours(name: str) -> bool:
    return name.split(".")[0] == "risk_pipelines"


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def upward_imports(sources: dict[str, str]) -> list[str]:
    """Every import that the layer table forbids, as 'file:line: a imports b (why)'."""
    problems = []
    for module, source in sorted(sources.items()):
        mine = layer_of(module)
        if mine not in ALLOWED:
            problems.append(f"{module}: layer {mine!r} is not in the architecture table")
            continue
        for line, target in imports_of(source):
            theirs = layer_of(target)
            if theirs and theirs != mine and theirs not in ALLOWED[mine]:
                problems.append(
                    f"{module}:{line}: imports {target} ({mine} may import only "
                    f"{', '.join(sorted(ALLOWED[mine])) or 'nothing of this package'})"
                )
    return problems


def tree_sources() -> dict[str, str]:
    return {module_name(p): p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py")}


def test_no_layer_imports_a_layer_above_it():
    assert not upward_imports(tree_sources()), "\n".join(upward_imports(tree_sources()))


def test_an_upward_import_is_caught():
    sources = tree_sources()
    sources["risk_pipelines.warehouse.bad"] = "from risk_pipelines.alerting import repository\n"
    sources["risk_pipelines.sources.worse"] = (
        "def f():\n    import risk_pipelines.metrics.aggregate\n"
    )
    problems = upward_imports(sources)
    assert any(p.startswith("risk_pipelines.warehouse.bad:1: imports risk_pipelines.alerting")
               for p in problems), problems  # fmt: skip
    assert any(p.startswith("risk_pipelines.sources.worse:2:") for p in problems), problems


def test_no_import_cycles_between_modules():
    sources = tree_sources()
    graph = {m: set() for m in sources}
    for module, source in sources.items():
        for _, target in imports_of(source):
            if target in graph and target != module and not module.startswith(target + "."):
                graph[module].add(target)
    cycles = _cycles(graph)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_core_never_imports_dagster():
    shell = set(SHELL) | set(ENTRY)
    offenders = [
        module
        for module, source in tree_sources().items()
        if layer_of(module) not in shell
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        and any(
            name.split(".")[0] == "dagster"
            for name in (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
        )  # fmt: skip
    ]
    assert not offenders, offenders


def test_only_config_reads_the_environment():
    """Every environment variable is read in config.py, where ENVIRONMENT lists it. Setting a
    third-party default before importing it (GX's analytics) is a write, not a read."""
    offenders = []
    for module, source in tree_sources().items():
        if module == f"risk_pipelines.{ENVIRONMENT_READER}":
            continue
        for node in ast.walk(ast.parse(source)):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("environ", "getenv", "getenvb")
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
                and "os.environ.setdefault(" not in source.splitlines()[node.lineno - 1]
            ):
                offenders.append(f"{module}:{node.lineno}")
    assert not offenders, offenders


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_no_module_is_over_400_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES, path


def test_no_core_function_takes_more_than_seven_parameters():
    offenders = []
    for module, source in tree_sources().items():
        if layer_of(module) not in CORE:
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = node.args
                names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
                names = [n for n in names if n not in ("self", "cls")]
                if len(names) > MAX_PARAMETERS:
                    offenders.append(f"{module}.{node.name}: {len(names)} parameters")
    assert not offenders, "\n".join(offenders)
