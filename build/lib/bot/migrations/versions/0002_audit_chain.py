"""The audit trail's hash chain and S3 outbox: chain columns on audit_events, the per-day chain heads.

Existing events are chained in insertion order, one chain per UTC day, so a 0001 trail upgrades without loss and
verifies like a new one.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# The canonical form is imported, not copied: it is a contract every trail, old or new, is verified against.
from bot import audit_chain

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Add the chain and outbox columns, create audit_chain_heads, chain the events already stored."""
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("iam_user", sa.String(255)))
        batch.add_column(sa.Column("day", sa.String(10)))
        batch.add_column(sa.Column("seq", sa.Integer))
        batch.add_column(sa.Column("prev_hash", sa.String(64)))
        batch.add_column(sa.Column("hash", sa.String(64)))
        batch.add_column(sa.Column("batch_key", sa.String(512)))
        batch.add_column(sa.Column("shipped_at", sa.DateTime(timezone=True)))
    op.create_table(
        "audit_chain_heads",
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_audit_chain_heads"),
    )
    heads = _chain_existing_events()
    if heads:
        op.bulk_insert(
            sa.table("audit_chain_heads", sa.column("day"), sa.column("seq"), sa.column("hash")),
            [{"day": day, "seq": seq, "hash": last} for day, (seq, last) in heads.items()],
        )
    op.create_index("ix_audit_events_day_seq", "audit_events", ["day", "seq"], unique=True)
    op.create_index("ix_audit_events_shipped_at_batch_key", "audit_events", ["shipped_at", "batch_key"])


def _chain_existing_events() -> dict[str, tuple[int, str]]:
    events = sa.table(
        "audit_events",
        sa.column("id", sa.Integer),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("actor", sa.String),
        sa.column("action", sa.String),
        sa.column("job_id", sa.String),
        sa.column("detail", sa.JSON),
        sa.column("day", sa.String),
        sa.column("seq", sa.Integer),
        sa.column("prev_hash", sa.String),
        sa.column("hash", sa.String),
    )
    connection = op.get_bind()
    heads: dict[str, tuple[int, str]] = {}
    rows = connection.execute(
        sa.select(events.c.id, events.c.at, events.c.actor, events.c.action, events.c.job_id, events.c.detail).order_by(
            events.c.id
        )
    ).all()
    for row in rows:
        # SQLite hands back naive UTC text; PostgreSQL an aware timestamp.
        at: datetime = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
        day = audit_chain.day_of(at)
        seq, previous = heads.get(day, (0, audit_chain.genesis(day)))
        record = {
            "day": day,
            "seq": seq + 1,
            "at": audit_chain.timestamp(at),
            "actor": row.actor,
            "iam_user": None,
            "action": row.action,
            "job_id": row.job_id,
            "detail": audit_chain.json_value(row.detail),
            "prev_hash": previous,
        }
        digest = audit_chain.digest(record)
        connection.execute(
            events.update().where(events.c.id == row.id).values(day=day, seq=seq + 1, prev_hash=previous, hash=digest)
        )
        heads[day] = (seq + 1, digest)
    return heads


def downgrade() -> None:
    """Drop the chain heads and the chain and outbox columns; the events themselves stay."""
    op.drop_index("ix_audit_events_shipped_at_batch_key", table_name="audit_events")
    op.drop_index("ix_audit_events_day_seq", table_name="audit_events")
    op.drop_table("audit_chain_heads")
    with op.batch_alter_table("audit_events") as batch:
        for name in ("shipped_at", "batch_key", "hash", "prev_hash", "seq", "day", "iam_user"):
            batch.drop_column(name)
