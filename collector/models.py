"""Every ORM model, imported once so that Base.metadata is complete (Alembic, tests)."""
from collector.calendar.models import CalendarImport
from collector.console.models import ConsoleSession, LoginFailure
from collector.db import Base
from collector.hosts.models import Host
from collector.jobs.models import JobRun
from collector.maintenance.models import MaintenanceWindow
from collector.notifications.models import OutboxMessage
from collector.reports.models import Report, ReportFailure
from collector.results.models import CheckState, ResultRow
from collector.rollups.models import ResultRollup
from collector.templates.models import ServedConfig, Template, TemplateAudit, TemplateGeneration, TemplateVersion
from collector.tickets.models import Counter, SupportWindow, Ticket, TicketEvent
from collector.users.models import User
from collector.visits.models import Visit

__all__ = ["Base", "CalendarImport", "CheckState", "ConsoleSession", "Counter", "Host", "JobRun", "LoginFailure",
           "MaintenanceWindow", "OutboxMessage", "Report", "ReportFailure", "ResultRollup", "ResultRow", "ServedConfig",
           "SupportWindow", "Template", "TemplateAudit", "TemplateGeneration", "TemplateVersion", "Ticket",
           "TicketEvent", "User",
           "Visit"]
