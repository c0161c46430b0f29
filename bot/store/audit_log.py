"""The audit trail's rows: appended in the caller's transaction, each linked into its UTC day's hash chain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot import audit_chain
from bot.audit_chain import ChainLink
from bot.domain import AuditEvent
from bot.pg_locks import lock_for_transaction
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
        day=row["day"],
        surface=row["surface"],
        seq=row["seq"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


_CHAIN_LOCK_KEY = 0x7264_7362_6368  # serializes appends to the one chain between bot processes on PostgreSQL


def _latest_head(conn: Connection) -> tuple[str, int, str] | None:
    """The store's open day: the latest (day, seq, hash), with every writer of the chain waiting behind us.

    One lock for the whole chain, not one per day: a day's first link reads the previous day's head, so opening
    a day and appending to the day before must not interleave. SQLite writers already hold the write lock.
    """
    if conn.dialect.name == "postgresql":
        lock_for_transaction(conn, _CHAIN_LOCK_KEY)
    heads = audit_chain_heads.c
    row = conn.execute(sa.select(heads.day, heads.seq, heads.hash).order_by(heads.day.desc()).limit(1)).first()
    return (str(row.day), int(row.seq), str(row.hash)) if row else None


def append_events(conn: Connection, events: Sequence[AuditEvent]) -> None:
    """Link `events` into the chain inside the caller's transaction (with the change they record).

    The chain only moves forward: an event of a later day opens that day, linked to the open day's head; an event
    stamped before the open day began (written late, or by a replica with a slow clock) joins the open day, so a
    day, once the next one has opened, never changes again and its close object is final.
    """
    if not events:
        return
    rows = _event_rows(events)
    latest = _latest_head(conn)
    opened: list[dict[str, Any]] = []
    for row in rows:
        if latest is None or row["day"] > latest[0]:
            start = latest[2] if latest else audit_chain.genesis(row["day"])
            opened.append({"day": row["day"], "start": start, "previous_day": latest[0] if latest else None})
            latest = (row["day"], 0, start)
        day, seq, previous = latest
        row.update(day=day, seq=seq + 1, prev_hash=previous)
        row["hash"] = audit_chain.digest(_chain_record(row))
        latest = (day, seq + 1, row["hash"])
    assert latest is not None
    if opened:
        conn.execute(audit_chain_heads.insert(), [{**day, "seq": 0, "hash": day["start"]} for day in opened])
    conn.execute(audit_events.insert(), rows)
    for day in {row["day"] for row in rows}:
        last = max((row for row in rows if row["day"] == day), key=lambda row: int(row["seq"]))
        conn.execute(
            audit_chain_heads.update().where(audit_chain_heads.c.day == day).values(seq=last["seq"], hash=last["hash"])
        )


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

    def chain_link(self, day: str) -> ChainLink:
        """What the day's first event must link to, read from the store's own heads."""
        heads = audit_chain_heads.c
        with self._db.transaction(write=False) as conn:
            row = conn.execute(sa.select(heads.start, heads.previous_day).where(heads.day == day)).first()
            if row is None or row.start is None:  # no such day, or a day opened before days were linked
                return ChainLink(None, audit_chain.genesis(day))
            if row.previous_day is None:
                return ChainLink(None, audit_chain.genesis(day))
            previous = conn.execute(sa.select(heads.hash).where(heads.day == row.previous_day)).scalar()
        # The previous day's head as it stands now: it is closed, so it is final, and must be what the day began at.
        return ChainLink(str(row.previous_day), str(previous) if previous is not None else None)
