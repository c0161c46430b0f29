"""Persistence adapters: one database, one repository per concern (jobs, approvals, audit log, audit outbox,
drill runs, chat threads, instance lifecycles, Slack outbox). The core sees only the Protocols in bot/ports.py; the
composition root builds these."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.errors import DuplicateJobError, UnknownJobError
from bot.store.approvals import SqlApprovals
from bot.store.audit_log import SqlAuditLog
from bot.store.audit_outbox import SqlAuditOutbox
from bot.store.chat_threads import SqlChatThreads
from bot.store.database import Database
from bot.store.drill_runs import SqlDrillRuns
from bot.store.jobs import SqlJobs
from bot.store.lifecycles import SqlInstanceLifecycles
from bot.store.slack_outbox import SqlSlackOutbox

__all__ = ["DuplicateJobError", "SqlStore", "UnknownJobError"]


class SqlStore:
    """Every repository over one database, migrated to head when opened."""

    def __init__(self, url: str | sa.URL) -> None:
        self.database = Database(url)
        self.jobs = SqlJobs(self.database)
        self.approvals = SqlApprovals(self.database)
        self.audit = SqlAuditLog(self.database)
        self.outbox = SqlAuditOutbox(self.database)
        self.drill_runs = SqlDrillRuns(self.database)
        self.chat_threads = SqlChatThreads(self.database)
        self.lifecycles = SqlInstanceLifecycles(self.database)
        self.slack_outbox = SqlSlackOutbox(self.database)

    @property
    def engine(self) -> Engine:
        """The underlying engine, for diagnostics and tests."""
        return self.database.engine

    def ping(self) -> None:
        """Raise unless the database answers a trivial query now (readiness)."""
        with self.database.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        """Release every pooled connection."""
        self.database.close()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
