"""Typed job outputs: the engine's bookkeeping gets a column of its own, chat threads a table of their own.

A job's `outputs` used to carry three kinds of keys. Stage outputs stay. The engine's bookkeeping
(transient_failures, cancel_sent, audit_record_pending) moves to jobs.engine_state. The Slack thread
(slack_channel, slack_ts) moves to chat_threads, keyed by job and chat surface. Downgrade puts them back.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | tuple[str, ...] | None = "0004"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

# Spelled out here, not imported from bot: a revision must keep describing the schema and the keys of its day.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_BOOKKEEPING = ("transient_failures", "cancel_sent", "audit_record_pending")
_SLACK = "slack"
_SLACK_CHANNEL, _SLACK_TS = "slack_channel", "slack_ts"

_jobs = sa.table("jobs", sa.column("id", sa.String), sa.column("outputs", _JSON), sa.column("engine_state", _JSON))
_threads = sa.table(
    "chat_threads",
    sa.column("job_id", sa.String),
    sa.column("surface", sa.String),
    sa.column("channel", sa.String),
    sa.column("thread_ts", sa.String),
)


def upgrade() -> None:
    """Add jobs.engine_state and chat_threads, then split every job's outputs between the three."""
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("engine_state", _JSON, nullable=False, server_default="{}"))
    op.create_table(
        "chat_threads",
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("surface", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_chat_threads_job_id_jobs"),
        sa.PrimaryKeyConstraint("job_id", "surface", name="pk_chat_threads"),
    )
    connection = op.get_bind()
    threads = []
    for job_id, outputs in connection.execute(sa.select(_jobs.c.id, _jobs.c.outputs)).all():
        kept: dict[str, Any] = dict(outputs or {})
        engine = {key: kept.pop(key) for key in _BOOKKEEPING if key in kept}
        channel, thread_ts = kept.pop(_SLACK_CHANNEL, None), kept.pop(_SLACK_TS, None)
        if channel and thread_ts:
            threads.append({"job_id": job_id, "surface": _SLACK, "channel": channel, "thread_ts": thread_ts})
        if kept != outputs or engine:
            connection.execute(_jobs.update().where(_jobs.c.id == job_id).values(outputs=kept, engine_state=engine))
    if threads:
        op.bulk_insert(_threads, threads)


def downgrade() -> None:
    """Fold the bookkeeping and the Slack threads back into outputs; drop chat_threads and jobs.engine_state."""
    connection = op.get_bind()
    slack = {
        row.job_id: {_SLACK_CHANNEL: row.channel, _SLACK_TS: row.thread_ts}
        for row in connection.execute(sa.select(_threads).where(_threads.c.surface == _SLACK))
    }
    for job_id, outputs, engine in connection.execute(sa.select(_jobs.c.id, _jobs.c.outputs, _jobs.c.engine_state)):
        # Only what is not at its default: the old code read a missing key as 0 or False, and wrote none.
        bookkeeping = {key: value for key, value in (engine or {}).items() if value}
        folded = {**(outputs or {}), **bookkeeping, **slack.get(job_id, {})}
        if folded != outputs:
            connection.execute(_jobs.update().where(_jobs.c.id == job_id).values(outputs=folded))
    op.drop_table("chat_threads")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("engine_state")
