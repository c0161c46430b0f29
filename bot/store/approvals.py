"""Decisions on jobs, one row per one that counted: an approver's approval or denial, a withdrawal before approval."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.domain import Approval, ApprovalDecision, AuditEvent, JobStatus
from bot.errors import UnknownJobError
from bot.store.audit_log import append_events
from bot.store.database import Database
from bot.store.jobs import transition_row
from bot.store.schema import approvals, jobs


class SqlApprovals:
    """The ApprovalRepository port on SQLAlchemy."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add_approval(
        self, job_id: str, actor: str, decision: ApprovalDecision, reason: str | None, at: datetime
    ) -> Approval:
        """Record one approver's decision on a stored job; UnknownJobError when there is no such job."""
        with self._db.transaction(write=True) as conn:
            # Checked here rather than left to the foreign key, which SQLite does not enforce.
            if conn.execute(sa.select(jobs.c.id).where(jobs.c.id == job_id)).first() is None:
                raise UnknownJobError(job_id)
            return _insert(conn, job_id, actor, decision, reason, at)

    def decide(
        self,
        job_id: str,
        new: JobStatus,
        actor: str,
        decision: ApprovalDecision,
        reason: str | None,
        at: datetime,
        events: Sequence[AuditEvent] = (),
    ) -> Approval | None:
        """The job from awaiting approval to `new`, marked unannounced, with this row and `events`, in one
        transaction; None (nothing written) when the job was no longer awaiting approval."""
        with self._db.transaction(write=True) as conn:
            if not transition_row(conn, job_id, JobStatus.AWAITING_APPROVAL, new, unannounced=True):
                return None
            approval = _insert(conn, job_id, actor, decision, reason, at)
            append_events(conn, events)
            return approval

    def approvals(self, job_id: str) -> list[Approval]:
        """The job's approval decisions in the order they were made."""
        query = approvals.select().where(approvals.c.job_id == job_id).order_by(approvals.c.id)
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(query).mappings().all()
        return [
            Approval(
                id=row["id"],
                job_id=row["job_id"],
                actor=row["actor"],
                decision=ApprovalDecision(row["decision"]),
                reason=row["reason"],
                at=row["at"],
            )
            for row in rows
        ]


def _insert(
    conn: Connection, job_id: str, actor: str, decision: ApprovalDecision, reason: str | None, at: datetime
) -> Approval:
    approval_id = conn.execute(
        approvals.insert()
        .values(job_id=job_id, actor=actor, decision=ApprovalDecision(decision).value, reason=reason, at=at)
        .returning(approvals.c.id)
    ).scalar_one()
    return Approval(id=approval_id, job_id=job_id, actor=actor, decision=decision, reason=reason, at=at)
