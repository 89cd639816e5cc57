"""SLA working-time calendar, response clocks and policy (pure Python: no database, no web)."""
from collector.sla.calendar import WorkCalendar, default_calendar
from collector.sla.clock import clock_time_between, working_time_between
from collector.sla.policy import SlaPolicy, elapsed_working, response_target, sla_state

__all__ = [
    "SlaPolicy", "WorkCalendar", "clock_time_between", "default_calendar", "elapsed_working", "response_target",
    "sla_state", "working_time_between",
]
