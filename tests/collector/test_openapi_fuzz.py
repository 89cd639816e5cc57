"""Property-based run of the whole OpenAPI (schemathesis) against the ASGI app with an admin API key:
whatever the generated input, no answer is a server error (5xx)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from collector.app import create_app
from collector.config import Settings
from collector.hosts import service as hosts
from collector.users import service as users

KEYS: dict[str, str] = {}
_DB = Path(tempfile.mkdtemp(prefix="xunjian-fuzz-")) / "fuzz.db"
app = create_app(Settings(db_url=f"sqlite:///{_DB}", jobs_enabled=False))
with app.state.sessionmaker() as _s:
    _, KEYS["admin"] = users.add(db=_s, name="admin", role="admin")
    _, KEYS["agent"] = hosts.enroll(db=_s, name="web01")
    _s.commit()
# The schema itself needs an operator key (api.public_docs is off by default).
schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers={"Authorization": f"Bearer {KEYS['admin']}"})


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_error(case: schemathesis.Case) -> None:
    token = KEYS["agent"] if case.path == "/api/v1/results" and case.method.upper() == "POST" else KEYS["admin"]
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    case.validate_response(response, checks=(not_a_server_error,))
