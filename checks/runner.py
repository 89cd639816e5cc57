"""Run one check and turn whatever happens into exactly one Result."""
from __future__ import annotations

import time
from typing import Optional

from checks.base import Check, Outcome, StateStore
from checks.model import MAX_SUMMARY_LEN, Result, Status, utcnow
from checks.registry import check_class
from checks.spec import CheckSpec
from checks.text import clean_text, clean_value


def instantiate(spec: CheckSpec, state: Optional[StateStore] = None) -> Check:
    return check_class(spec.type)(spec.options, state=state)


def run_check(check: Check, spec: CheckSpec, host: str) -> Result:
    started = utcnow()
    t0 = time.monotonic()
    try:
        outcome = check.run()
    except Exception as e:  # a failing check never takes the agent down
        outcome = Outcome(Status.UNKNOWN, f"检查执行异常: {type(e).__name__}: {e}")
    return to_result(outcome, spec, host, started, time.monotonic() - t0)


def to_result(outcome: Outcome, spec: CheckSpec, host: str, started, duration: float) -> Result:
    """The result of one run. Its text is cleaned here as well as where it entered (checks/text.py):
    an exception message or a file name can carry a NUL or an undecodable byte too."""
    summary = clean_text(" ".join(outcome.summary.split()))[:MAX_SUMMARY_LEN]
    for m in outcome.metrics:
        m.name, m.unit = clean_text(m.name), clean_text(m.unit)
    return Result(host=host, check=spec.name, system=spec.system, status=outcome.status,
                  summary=summary, started_at=started, duration=duration,
                  metrics=outcome.metrics, type=spec.type, details=clean_value(outcome.details))


def timeout_result(spec: CheckSpec, host: str, started, elapsed: float) -> Result:
    return to_result(Outcome(Status.UNKNOWN, f"检查超时: 超过 {spec.timeout:g} 秒未完成"),
                     spec, host, started, elapsed)
