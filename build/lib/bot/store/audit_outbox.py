"""The audit outbox: events are frozen into deterministic batches, then marked shipped once S3 has the object."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa

from bot.domain import AuditEvent
from bot.pg_locks import lock_for_transaction
from bot.store.audit_log import event_from_row
from bot.store.database import Database
from bot.store.schema import audit_events

_OUTBOX_LOCK_KEY = 0x7264_7362_6F75  # serializes audit batch claims between bot processes on PostgreSQL


class SqlAuditOutbox:
    """The AuditOutbox port on SQLAlchemy."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def claim_audit_batches(self, key_for: Callable[[str, int, int], str], limit: int = 500) -> list[str]:
        """Keys of batches frozen but not yet shipped, oldest first; when none, freeze the next (up to `limit`).

        A frozen batch never changes, so a retry after an ambiguous failure writes the same key with the same
        bytes. `key_for(day, first_seq, last_seq)` names the object.
        """
        with self._db.transaction(write=True) as conn:
            if conn.dialect.name == "postgresql":
                lock_for_transaction(conn, _OUTBOX_LOCK_KEY)
            first = sa.func.min(audit_events.c.id)
            frozen = conn.execute(
                sa.select(audit_events.c.batch_key, first)
                .where(audit_events.c.batch_key.is_not(None), audit_events.c.shipped_at.is_(None))
                .group_by(audit_events.c.batch_key)
                .order_by(first)
            ).all()
            if frozen:
                return [str(row.batch_key) for row in frozen]
            rows = conn.execute(
                sa.select(audit_events.c.day, audit_events.c.seq)
                .where(audit_events.c.batch_key.is_(None))
                .order_by(audit_events.c.day, audit_events.c.seq)
                .limit(limit)
            ).all()
            if not rows:
                return []
            day = rows[0].day
            run = [row.seq for row in rows if row.day == day]
            key = key_for(day, run[0], run[-1])
            conn.execute(
                audit_events.update()
                .where(audit_events.c.day == day, audit_events.c.seq.between(run[0], run[-1]))
                .values(batch_key=key)
            )
            return [key]

    def audit_batch(self, key: str) -> list[AuditEvent]:
        """The events frozen into one batch, in chain order."""
        query = audit_events.select().where(audit_events.c.batch_key == key).order_by(audit_events.c.seq)
        with self._db.transaction(write=False) as conn:
            return [event_from_row(row) for row in conn.execute(query).mappings().all()]

    def mark_audit_shipped(self, key: str, at: datetime) -> int:
        """Record that S3 accepted the batch's object; returns how many events this call marked."""
        with self._db.transaction(write=True) as conn:
            marked = conn.execute(
                audit_events.update()
                .where(audit_events.c.batch_key == key, audit_events.c.shipped_at.is_(None))
                .values(shipped_at=at)
            )
            return int(marked.rowcount)

    def unshipped_audit_events(self) -> int:
        """How many audit events S3 has not accepted yet."""
        query = sa.select(sa.func.count()).select_from(audit_events).where(audit_events.c.shipped_at.is_(None))
        with self._db.transaction(write=False) as conn:
            return int(conn.execute(query).scalar_one())
