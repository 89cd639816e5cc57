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
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_its_layers(package: str) -> None:
    bad = []
    for path in sorted((REPO / package).rglob("*.py")):
        extra = imported_packages(path) - ALLOWED[package]
        if extra:
            bad.append(f"{path.relative_to(REPO)} imports {sorted(extra)}")
    assert not bad, "\n".join(bad)


def test_agent_never_loads_the_collector_stack() -> None:
    code = ("import sys, agent.cli, agent.daemon, agent.sender, checks.disk, checks.log, checks.system;"
            "heavy = {'fastapi', 'sqlalchemy', 'pydantic', 'httpx', 'starlette', 'uvicorn', 'prometheus_client'};"
            "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"
