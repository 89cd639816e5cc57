"""Real captured outputs: the shared fixtures folder (../shared/fixtures next to the checkout, or
next to the folder holding a worktree) and the repository's own tests/fixtures (each file's first
line `# source: ...`, sources listed in the folder's INDEX.md)."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REPO_FIXTURES = REPO / "tests" / "fixtures"
_CANDIDATES = [REPO.parent / "shared" / "fixtures", REPO.parent.parent / "shared" / "fixtures"]
FIXTURES = next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])


def fixture_path(relpath: str) -> Path:
    """The file in the repository's fixtures, else in the shared folder (skips when absent)."""
    own = REPO_FIXTURES / relpath
    if own.is_file():
        return own
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES}")
    return FIXTURES / relpath


def fixture_names(subdir: str) -> list[str]:
    """Every fixture file of a folder, shared and repository alike (INDEX.md excluded)."""
    names = {p.name for root in (FIXTURES, REPO_FIXTURES) if (root / subdir).is_dir()
             for p in (root / subdir).iterdir() if p.is_file() and p.name != "INDEX.md"}
    return sorted(names)


def fixture_text(relpath: str) -> str:
    """The file without its first `# source:` line, line endings untouched (some are CRLF)."""
    data = fixture_path(relpath).read_bytes().decode("utf-8")
    first, _, rest = data.partition("\n")
    assert first.startswith("# source:"), f"{relpath}: first line should be '# source: ...'"
    return rest
