"""Every ORM model, imported once so that Base.metadata is complete (Alembic, tests)."""
from collector.db import Base
from collector.hosts.models import Host
from collector.jobs.models import JobRun
from collector.maintenance.models import MaintenanceWindow
from collector.notifications.models import OutboxMessage
from collector.results.models import CheckState, ResultRow
from collector.tickets.models import Counter, Ticket, TicketEvent
from collector.users.models import User

__all__ = ["Base", "CheckState", "Counter", "Host", "JobRun", "MaintenanceWindow", "OutboxMessage", "ResultRow",
           "Ticket", "TicketEvent", "User"]
