"""The rules' shortcut for quiet checks (no ticket, every new result OK) leaves exactly the state the
result-by-result rule loop leaves; anything else still goes through the loop."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.rules import decide
from checks.model import Status
from collector.config import Settings
from collector.ingest import evaluate as E
from collector.ingest.records import Rec

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=timezone.utc)
CST = timezone(timedelta(hours=8))


class Host:
    id = 7
    name = "voucher-01"
    unit = "某市财政局"
    room = "A"
    labels: dict[str, Any] = {}  # noqa: RUF012


def rec(check: str, second: int, status: Status, n: int) -> Rec:
    # results in the agent's own offset (+08:00), states loaded in UTC: as in production
    return Rec(uuid.UUID(int=n + 1), n, Host.name, check, "log", "voucher", status, f"第 {n} 次",
               (T0 + timedelta(seconds=second)).astimezone(CST), 0.01, f'[{{"name":"n","value":{n}}}]', "{}")


def loop_reference(state: Optional[dict[str, Any]], recs: list[Rec], cfg: Any) -> Optional[dict[str, Any]]:
    """The rule loop for a check with no active ticket, result by result (every decision is NONE for OK)."""
    last = None if state is None else state["last_started_at"]
    out = None if state is None else dict(state)
    for r in sorted(recs, key=lambda r: r.started_at):
        if last is not None and r.started_at <= last:
            continue
        out = E._advance(out, Host.id, r)
        d = decide(status=r.status, consecutive_bad=out["consecutive_bad"], consecutive_ok=out["consecutive_ok"],
                   ticket_active=False, config=cfg)
        out["consecutive_bad"], out["consecutive_ok"] = d.consecutive_bad, d.consecutive_ok
    return out


def run(state: Optional[dict[str, Any]], recs: list[Rec]) -> list[dict[str, Any]]:
    saved: list[dict[str, Any]] = []
    states = {} if state is None else {"app-log": state}
    frozen = None if state is None else dict(state)
    E.evaluate(tx=None, host=Host, fresh=recs, faults=E.fault_keys(Host.name, recs), states=states,  # type: ignore[arg-type]
               found=set(), now=T0, settings=Settings(), save_later=saved)
    assert state == frozen, "the loaded state must stay as it was"
    return saved


prior_states = st.one_of(st.none(), st.builds(
    lambda status, bad, ok, changes, last: {
        "host_id": Host.id, "check": "app-log", "type": "log", "system": "voucher", "status": status,
        "summary": "之前", "metrics": "[]", "last_result_id": uuid.UUID(int=0),
        "last_started_at": T0 + timedelta(seconds=last), "consecutive_bad": bad, "consecutive_ok": ok,
        "status_changes": changes, "since": T0 - timedelta(days=1)},
    st.sampled_from([0, 1, 2, 3]), st.integers(0, 5), st.integers(0, 5), st.integers(0, 9), st.integers(-30, 30)))
# OK results at any time, and non-OK ones only at times a prior state has already passed (late results the
# loop skips): a non-OK new result would open a ticket, which needs a database
results = st.lists(st.tuples(st.integers(-40, 40), st.booleans()), max_size=12)


@settings(max_examples=300, deadline=None)
@given(prior_states, results)
def test_quiet_check_state_is_what_the_rule_loop_leaves(state: Optional[dict[str, Any]],
                                                        spec: list[tuple[int, bool]]) -> None:
    last = None if state is None else (state["last_started_at"] - T0).total_seconds()
    recs = [rec("app-log", s, Status.CRITICAL if late_bad and last is not None and s <= last else Status.OK, n)
            for n, (s, late_bad) in enumerate(spec)]
    expected = loop_reference(state, recs, E.rule_config(Settings()))
    saved = run(state, recs)
    if expected is None or expected == state:
        assert saved == []  # nothing new: nothing to save
    else:
        assert saved == [expected]


def test_a_bad_result_among_ok_ones_takes_the_rule_loop() -> None:
    """The shortcut must not swallow a fault: a WARNING among OKs counts as bad (and the loop, not the
    shortcut, decides; with consecutive_bad above the run, no ticket opens, so no database is needed)."""
    recs = [rec("app-log", 1, Status.OK, 0), rec("app-log", 2, Status.WARNING, 1), rec("app-log", 3, Status.OK, 2)]
    s = Settings()
    s.tickets.consecutive_bad = 5
    saved: list[dict[str, Any]] = []
    E.evaluate(tx=None, host=Host, fresh=recs, faults=E.fault_keys(Host.name, recs), states={},  # type: ignore[arg-type]
               found=set(), now=T0, settings=s, save_later=saved)
    (state,) = saved
    assert state["status"] == 0 and state["consecutive_ok"] == 1 and state["consecutive_bad"] == 0
    assert state["status_changes"] == 2  # OK → WARNING → OK
    assert state["since"] == recs[2].started_at and state["summary"] == "第 2 次"
