"""SLA working-time calendar, response clocks and policy (pure Python: no database, no web)."""
from collector.sla.calendar import (
    Schedule,
    ScheduleError,
    WorkCalendar,
    default_calendar,
    parse_schedule,
)
from collector.sla.clock import (
    add_clock_time,
    add_working_time,
    clock_time_between,
    working_hours,
    working_time_between,
)
from collector.sla.policy import (
    CHANNELS,
    AutoRule,
    Elapsed,
    ResponseTarget,
    SlaPolicy,
    SlaSnapshot,
    elapsed_working,
    response_due,
    response_sla,
    response_target,
    sla_state,
)

__all__ = [
    "CHANNELS", "AutoRule", "Elapsed", "ResponseTarget", "Schedule", "ScheduleError", "SlaPolicy",
    "SlaSnapshot", "WorkCalendar", "add_clock_time", "add_working_time", "clock_time_between",
    "default_calendar", "elapsed_working", "parse_schedule", "response_due", "response_sla",
    "response_target", "sla_state", "working_hours", "working_time_between",
]
