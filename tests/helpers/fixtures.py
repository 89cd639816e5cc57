"""Real captured outputs in the shared fixtures folder (../shared/fixtures next to the repo)."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO.parent / "shared" / "fixtures"


def fixture_text(relpath: str) -> str:
    """The file without its first `# source:` line, line endings untouched (some are CRLF).
    Skips the test when the shared fixtures folder is absent."""
    path = FIXTURES / relpath
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES}")
    data = path.read_bytes().decode("utf-8")
    first, _, rest = data.partition("\n")
    assert first.startswith("# source:"), f"{relpath}: first line should be '# source: ...'"
    return rest
