"""Run one check and turn whatever happens into exactly one Result."""
from __future__ import annotations

import time
from typing import Optional

from checks.base import Check, Outcome, StateStore
from checks.model import MAX_SUMMARY_LEN, Result, Status, utcnow
from checks.registry import check_class
from checks.spec import CheckSpec


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
    summary = " ".join(outcome.summary.split())[:MAX_SUMMARY_LEN]
    return Result(host=host, check=spec.name, system=spec.system, status=outcome.status,
                  summary=summary, started_at=started, duration=duration,
                  metrics=outcome.metrics, type=spec.type, details=outcome.details)


def timeout_result(spec: CheckSpec, host: str, started, elapsed: float) -> Result:
    return to_result(Outcome(Status.UNKNOWN, f"检查超时: 超过 {spec.timeout:g} 秒未完成"),
                     spec, host, started, elapsed)
