"""The layers stay as agreed: checks/ at the bottom, agent/ and alerts/ on it, collector/ on top, deploy/ alone."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OURS = {"checks", "agent", "alerts", "collector", "deploy"}
ALLOWED = {
    "checks": {"checks"},
    "agent": {"agent", "checks"},
    "alerts": {"alerts", "checks"},
    "collector": {"collector", "checks", "alerts"},
    "deploy": {"deploy"},
}


def imported_packages(path: Path) -> set[str]:
    """The top-level packages a file imports (ours and third-party)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_its_layers(package: str) -> None:
    bad = []
    for path in sorted((REPO / package).rglob("*.py")):
        extra = imported_packages(path) & OURS - ALLOWED[package]
        if extra:
            bad.append(f"{path.relative_to(REPO)} imports {sorted(extra)}")
    assert not bad, "\n".join(bad)


def test_agent_never_loads_the_collector_stack() -> None:
    code = ("import sys, agent.cli, agent.daemon, agent.sender, checks.disk, checks.log, checks.system;"
            "heavy = {'fastapi', 'sqlalchemy', 'pydantic', 'httpx', 'starlette', 'uvicorn', 'prometheus_client'};"
            "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


# -- no import cycles ------------------------------------------------------------------------------
# Every import counts: module level, inside functions, under TYPE_CHECKING. Importing a.b.c also runs
# a/__init__.py and a/b/__init__.py, so those are edges too.

def module_files() -> dict[str, Path]:
    found = {}
    for package in sorted(OURS):
        for path in sorted((REPO / package).rglob("*.py")):
            rel = path.relative_to(REPO)
            if "migrations/versions" in rel.as_posix():
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def import_graph(files: dict[str, Path]) -> dict[str, set[str]]:
    def ours(name: str) -> set[str]:
        """The module `name` names (or its longest known prefix) and the packages above it."""
        while name and name not in files:
            name = name.rpartition(".")[0]
        out = set()
        while name:
            out.add(name)
            name = name.rpartition(".")[0]
        return out

    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    deps |= ours(alias.name)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                for alias in node.names:
                    deps |= ours(f"{base}.{alias.name}")
        graph[module] = deps - {module} - ours(package)  # a module's own packages ran before it
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each as one cycle through it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(_one_cycle(graph, set(component)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _one_cycle(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest way from the component's first node back to itself, for the message."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & component):
            if w == start:
                return [*paths[v], start]
            if w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    return sorted(component)


def domain_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """collector's sub-packages (hosts, tickets, ...) and which others they import."""
    def domain(module: str) -> str | None:
        parts = module.split(".")
        return parts[1] if parts[0] == "collector" and len(parts) > 1 and (REPO / "collector" / parts[1]).is_dir() \
            else None

    out: dict[str, set[str]] = {}
    for module, deps in graph.items():
        d = domain(module)
        if d is not None:
            out.setdefault(d, set()).update(e for e in map(domain, deps) if e is not None and e != d)
    return out


def test_no_import_cycle_between_files() -> None:
    found = cycles(import_graph(module_files()))
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_no_import_cycle_between_collector_domains() -> None:
    found = cycles(domain_graph(import_graph(module_files())))
    assert not found, "collector domains import each other:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_cycle_finder_sees_local_and_type_checking_imports(tmp_path: Path) -> None:
    files = {"p": tmp_path / "p" / "__init__.py", "p.a": tmp_path / "p" / "a.py", "p.b": tmp_path / "p" / "b.py",
             "p.c": tmp_path / "p" / "c.py"}
    files["p"].parent.mkdir()
    files["p"].write_text("")
    files["p.a"].write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from p.b import X\n")
    files["p.b"].write_text("def f():\n    from . import c\n")
    files["p.c"].write_text("import p.a\n")
    graph = import_graph(files)
    assert graph["p.b"] == {"p.c"} and graph["p.c"] == {"p.a"}
    assert cycles(graph) == [["p.a", "p.b", "p.c", "p.a"]]
    assert cycles(domain_graph({"collector.hosts.x": {"collector.tickets.y"},
                                "collector.tickets.y": {"collector.hosts.z"}})) == [["hosts", "tickets", "hosts"]]


# -- the shape of a collector domain ---------------------------------------------------------------
# Each folder in collector/ (not console/, the web console; not migrations/) is one domain; where it has
# them: ORM tables in models.py, pydantic API models in schemas.py, routers in views.py.

NOT_DOMAINS = {"console", "migrations"}


def domain_files() -> dict[str, Path]:
    """The modules inside collector's domain folders (collector/tickets/views.py, ...)."""
    top = REPO / "collector"
    return {m: p for m, p in module_files().items()
            if p.is_relative_to(top) and p.parent != top and p.relative_to(top).parts[0] not in NOT_DOMAINS}


@pytest.mark.parametrize("kind, home", [("pydantic", "schemas"), ("orm", "models")])
def test_domain_classes_live_in_their_file(kind: str, home: str) -> None:
    import importlib

    from pydantic import BaseModel

    from collector.db import Base

    base = {"pydantic": BaseModel, "orm": Base}[kind]
    bad = []
    for module, path in domain_files().items():
        if path.stem == home:
            continue
        loaded = importlib.import_module(module)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):  # class statements, not Page[X]
            value = getattr(loaded, node.name, None) if isinstance(node, ast.ClassDef) else None
            if isinstance(value, type) and issubclass(value, base):
                bad.append(f"{path.relative_to(REPO)} defines {node.name}: it belongs in {home}.py")
    assert not bad, "\n".join(bad)


def test_domain_routers_live_in_views() -> None:
    bad = []
    for path in domain_files().values():
        nodes = list(ast.walk(ast.parse(path.read_text(encoding="utf-8"))))
        names = {"APIRouter"} | {a.asname for n in nodes if isinstance(n, ast.ImportFrom) for a in n.names
                                 if a.name == "APIRouter" and a.asname}  # from fastapi import APIRouter as R
        for node in nodes:
            if isinstance(node, ast.Call) and path.stem != "views" and \
                    getattr(node.func, "id", getattr(node.func, "attr", None)) in names:
                bad.append(f"{path.relative_to(REPO)}:{node.lineno} makes an APIRouter: routes belong in views.py")
    assert not bad, "\n".join(bad)


def test_schemas_and_models_stay_below_service_and_views() -> None:
    """schemas.py: shapes only (no sqlalchemy, no operations, no routes); models.py: tables only."""
    graph = import_graph(module_files())
    forbidden = {"schemas": {"service", "views"}, "models": {"service", "views"}}
    bad = []
    for module, path in domain_files().items():
        for dep in sorted(graph[module]):
            if dep.rpartition(".")[2] in forbidden.get(path.stem, ()):
                bad.append(f"{path.relative_to(REPO)} imports {dep}")
        if path.stem == "schemas" and "sqlalchemy" in imported_packages(path):
            bad.append(f"{path.relative_to(REPO)} imports sqlalchemy")
    assert not bad, "\n".join(bad)


def test_the_system_codes_are_written_once() -> None:
    """checks.model.System is the one list of systems; SystemCode repeats it for pydantic, nothing else does."""
    from typing import get_args

    from checks.model import SYSTEMS, SystemCode

    assert get_args(SystemCode) == SYSTEMS
    spelled = ", ".join(f'"{s}"' for s in SYSTEMS)
    bad = [str(p.relative_to(REPO)) for p in sorted([*module_files().values(), *(REPO / "bench").rglob("*.py")])
           if p != REPO / "checks" / "model.py" and spelled in p.read_text(encoding="utf-8")]
    assert not bad, "the system codes written out again (use checks.model.SYSTEMS or SystemCode):\n" + "\n".join(bad)
