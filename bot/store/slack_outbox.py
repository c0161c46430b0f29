"""The Slack outbox on SQLAlchemy: each write a row, heads per key, a lease per attempt, dead letters kept."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.chat_outbox import (
    DeadLetter,
    Delivery,
    MessageKind,
    NewMessage,
    OutboxMessage,
    OutboxPayload,
    SlackMethod,
)
from bot.store.database import Database
from bot.store.schema import slack_outbox as t

_PENDING, _DELIVERED, _DEAD = Delivery.PENDING.value, Delivery.DELIVERED.value, Delivery.DEAD.value


def _message(row: Any) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        uid=row.uid,
        key=row.key,
        method=SlackMethod(row.method),
        kind=MessageKind(row.kind),
        channel=row.channel,
        job_id=row.job_id,
        ref=row.ref,
        thread_ref=row.thread_ref,
        target_ref=row.target_ref,
        payload=OutboxPayload.model_validate(row.payload),
        state=Delivery(row.state),
        attempts=row.attempts,
        unconfirmed=row.unconfirmed,
        not_before=row.not_before,
        first_attempt_at=row.first_attempt_at,
        error=row.error,
        ts=row.ts,
        posted_channel=row.posted_channel,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


class SqlSlackOutbox:
    """The SlackOutboxRepository port on SQLAlchemy."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def enqueue(self, message: NewMessage, now: datetime) -> int:
        """Queue a write. A write whose `ref` is already queued is not queued again: its id is returned (a
        finish announced again after a crash). An edit replaces a pending, never tried edit of the same message,
        or the content of its still unsent post: the newest content is all Slack needs to see, and each fold
        saves a call."""
        payload = message.payload.model_dump(mode="json", exclude_none=True)
        with self._db.transaction(write=True) as conn:
            if message.ref is not None:
                queued = conn.execute(sa.select(t.c.id).where(t.c.ref == message.ref)).scalar()
                if queued is not None:
                    return int(queued)
            if message.method == SlackMethod.UPDATE and message.target_ref:
                folded = self._fold(conn, message, payload)
                if folded is not None:
                    return folded
            inserted = conn.execute(
                t.insert().values(
                    uid=uuid.uuid4().hex,
                    key=message.key,
                    method=message.method.value,
                    kind=message.kind.value,
                    channel=message.channel,
                    job_id=message.job_id,
                    ref=message.ref,
                    thread_ref=message.thread_ref,
                    target_ref=message.target_ref,
                    payload=payload,
                    state=_PENDING,
                    attempts=0,
                    unconfirmed=False,
                    created_at=now,
                )
            )
            key = inserted.inserted_primary_key
            assert key is not None  # an autoincrement insert always has one
            return int(key[0])

    def revise_unsent(self, target_ref: str, text: str, blocks: list[dict[str, Any]] | None = None) -> bool:
        """Replace the content of the message `target_ref` (or of its edit) while neither was tried; False if
        too late, when only a new edit can change what Slack shows."""
        edit = NewMessage(
            key="",
            method=SlackMethod.UPDATE,
            kind=MessageKind.PROGRESS,
            channel="",
            payload=OutboxPayload(text=text, blocks=blocks),
            target_ref=target_ref,
        )
        with self._db.transaction(write=True) as conn:
            return self._fold(conn, edit, edit.payload.model_dump(mode="json", exclude_none=True)) is not None

    @staticmethod
    def _fold(conn: Connection, message: NewMessage, payload: dict[str, Any]) -> int | None:
        untried = (t.c.state == _PENDING) & (t.c.attempts == 0)
        edit = conn.execute(
            sa.select(t.c.id).where(untried, t.c.target_ref == message.target_ref, t.c.method == message.method.value)
        ).first()
        if edit is None:
            edit = conn.execute(sa.select(t.c.id, t.c.payload).where(untried, t.c.ref == message.target_ref)).first()
            if edit is None:
                return None
            # The post keeps what only a post has (a response_url, a user); text and blocks become the edit's.
            payload = {**edit.payload, "text": payload.get("text", ""), "blocks": payload.get("blocks")}
            payload = {k: v for k, v in payload.items() if v is not None}
        # Still untried at the write, or a sender claimed it meanwhile and the edit must go as a write of its own.
        folded = conn.execute(t.update().where(t.c.id == edit.id, t.c.attempts == 0).values(payload=payload))
        return int(edit.id) if folded.rowcount else None

    def heads(self, now: datetime, limit: int = 50) -> list[OutboxMessage]:
        first = sa.select(sa.func.min(t.c.id)).where(t.c.state == _PENDING).group_by(t.c.key)
        query = (
            t.select()
            .where(
                t.c.id.in_(first),
                sa.or_(t.c.not_before.is_(None), t.c.not_before <= now),
                sa.or_(t.c.lease_until.is_(None), t.c.lease_until < now),
            )
            .order_by(t.c.id)
            .limit(limit)
        )
        with self._db.transaction(write=False) as conn:
            return [_message(row) for row in conn.execute(query).all()]

    def claim(self, message_id: int, now: datetime, lease_seconds: float) -> OutboxMessage | None:
        with self._db.transaction(write=True) as conn:
            row = conn.execute(t.select().where(t.c.id == message_id)).first()
            if row is None or row.state != _PENDING or (row.lease_until is not None and row.lease_until >= now):
                return None
            claimed = _message(row).model_copy(update={"attempts": row.attempts + 1})
            conn.execute(
                t.update()
                .where(t.c.id == message_id)
                .values(
                    attempts=row.attempts + 1,
                    lease_until=now + timedelta(seconds=lease_seconds),
                    first_attempt_at=row.first_attempt_at or now,
                    # Written before the request leaves: if the process dies with it in flight, the next sender
                    # knows to look in Slack before posting again.
                    unconfirmed=row.unconfirmed or row.method == SlackMethod.POST.value,
                )
            )
            return claimed

    def mark_delivered(self, message_id: int, ts: str | None, channel: str | None, now: datetime) -> None:
        values = {"state": _DELIVERED, "ts": ts, "posted_channel": channel, "delivered_at": now, "unconfirmed": False}
        self._settle(message_id, values)

    def retry_later(self, message_id: int, not_before: datetime, error: str, *, unconfirmed: bool) -> None:
        self._settle(message_id, {"not_before": not_before, "error": error[:2000], "unconfirmed": unconfirmed})

    def park(self, message_id: int, error: str, now: datetime) -> None:
        self._settle(message_id, {"state": _DEAD, "error": error[:2000], "delivered_at": now})

    def _settle(self, message_id: int, values: dict[str, Any]) -> None:
        with self._db.transaction(write=True) as conn:
            conn.execute(t.update().where(t.c.id == message_id).values(lease_until=None, **values))

    def by_ref(self, ref: str) -> OutboxMessage | None:
        with self._db.transaction(write=False) as conn:
            row = conn.execute(t.select().where(t.c.ref == ref)).first()
        return None if row is None else _message(row)

    def channel_id(self, channel: str) -> str | None:
        query = (
            sa.select(t.c.posted_channel)
            .where(t.c.channel == channel, t.c.state == _DELIVERED, t.c.posted_channel.is_not(None))
            .limit(1)
        )
        with self._db.transaction(write=False) as conn:
            found = conn.execute(query).scalar()
        return None if found is None else str(found)

    def _count(self, state: str) -> int:
        query = sa.select(sa.func.count()).select_from(t).where(t.c.state == state)
        with self._db.transaction(write=False) as conn:
            return int(conn.execute(query).scalar_one())

    def depth(self) -> int:
        return self._count(_PENDING)

    def dead_letter_count(self) -> int:
        return self._count(_DEAD)

    def dead_letters(self, limit: int = 20) -> list[DeadLetter]:
        query = t.select().where(t.c.state == _DEAD).order_by(t.c.id.desc()).limit(limit)
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(query).all()
        return [
            DeadLetter(
                id=row.id,
                kind=MessageKind(row.kind),
                job_id=row.job_id,
                channel=row.channel,
                error=row.error or "",
                at=row.delivered_at or row.created_at,
            )
            for row in rows
        ]
