"""The audit trail's rows: appended in the caller's transaction, each linked into its UTC day's hash chain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bot import audit_chain
from bot.domain import AuditEvent
from bot.store.database import Database
from bot.store.schema import audit_chain_heads, audit_events


def _event_rows(events: Sequence[AuditEvent]) -> list[dict[str, Any]]:
    return [
        {
            "at": event.at,
            "actor": event.actor,
            "action": event.action,
            "job_id": event.job_id,
            "detail": audit_chain.json_value(event.model_dump(mode="json", include={"detail"})["detail"]),
            "iam_user": event.iam_user,
            "surface": event.surface.value if event.surface is not None else None,
            "day": audit_chain.day_of(event.at),
        }
        for event in events
    ]


def _chain_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored event as the chain hashes it."""
    return {**row, "at": audit_chain.timestamp(row["at"])}


def event_from_row(row: sa.RowMapping) -> AuditEvent:
    return AuditEvent(
        id=row["id"],
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        job_id=row["job_id"],
        detail=row["detail"],
        iam_user=row["iam_user"],
        surface=row["surface"],
        seq=row["seq"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


def _lock_chain_head(conn: Connection, day: str) -> tuple[int, str]:
    """The day's last (seq, hash), its row locked until commit; created at the genesis value for a new day."""
    dialect = conn.dialect.name
    start = {"day": day, "seq": 0, "hash": audit_chain.genesis(day)}
    if dialect in ("postgresql", "sqlite"):
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(audit_chain_heads)
        # Two writers opening a day at once: the second waits on the first's key, then does nothing.
        conn.execute(insert.values(**start).on_conflict_do_nothing(index_elements=["day"]))
    elif conn.execute(sa.select(audit_chain_heads.c.day).where(audit_chain_heads.c.day == day)).first() is None:
        conn.execute(audit_chain_heads.insert().values(**start))
    # FOR UPDATE on PostgreSQL; SQLite writers already hold the database write lock (BEGIN IMMEDIATE).
    query = sa.select(audit_chain_heads.c.seq, audit_chain_heads.c.hash).where(audit_chain_heads.c.day == day)
    row = conn.execute(query.with_for_update() if dialect == "postgresql" else query).one()
    return int(row.seq), str(row.hash)


def append_events(conn: Connection, events: Sequence[AuditEvent]) -> None:
    """Link `events` into their days' chains inside the caller's transaction (with the change they record)."""
    if not events:
        return
    rows = _event_rows(events)
    # Heads are locked in day order, so two writers spanning midnight cannot deadlock each other.
    heads = {day: _lock_chain_head(conn, day) for day in sorted({row["day"] for row in rows})}
    for row in rows:
        seq, previous = heads[row["day"]]
        row.update(seq=seq + 1, prev_hash=previous)
        row["hash"] = audit_chain.digest(_chain_record(row))
        heads[row["day"]] = (seq + 1, row["hash"])
    conn.execute(audit_events.insert(), rows)
    for day, (seq, last) in heads.items():
        conn.execute(audit_chain_heads.update().where(audit_chain_heads.c.day == day).values(seq=seq, hash=last))


class SqlAuditLog:
    """The AuditLog port on SQLAlchemy."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def record_audit(self, events: Sequence[AuditEvent]) -> None:
        """Append audit events that go with no job change."""
        with self._db.transaction(write=True) as conn:
            append_events(conn, events)

    def audit_events(self, job_id: str | None = None, since: datetime | None = None) -> list[AuditEvent]:
        """Audit events in insertion order, optionally of one job and at or after `since`."""
        query = audit_events.select().order_by(audit_events.c.id)
        if job_id is not None:
            query = query.where(audit_events.c.job_id == job_id)
        if since is not None:
            query = query.where(audit_events.c.at >= since)
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(query).mappings().all()
        return [event_from_row(row) for row in rows]

    def audit_day(self, day: str) -> tuple[list[AuditEvent], tuple[int, str] | None]:
        """One UTC day's chain in order, and its head (last seq, hash) read in the same snapshot."""
        query = audit_events.select().where(audit_events.c.day == day).order_by(audit_events.c.seq)
        head_query = sa.select(audit_chain_heads.c.seq, audit_chain_heads.c.hash).where(audit_chain_heads.c.day == day)
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(query).mappings().all()
            head = conn.execute(head_query).first()
        return [event_from_row(row) for row in rows], (int(head.seq), str(head.hash)) if head else None
