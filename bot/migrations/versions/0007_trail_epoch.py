"""The append-only trail: each day links to the previous day's head, a day-close object, a store epoch.

Days already in the store keep `start` NULL: they began at their genesis value and keep verifying as shipped. The
epoch itself is drawn on first use (bot/store/audit_outbox.py), so a database created any other way gets one too.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | tuple[str, ...] | None = "0006"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

# Spelled out here, not imported from bot: a revision must keep describing the schema of its day.
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("audit_chain_heads") as batch:
        batch.add_column(sa.Column("start", sa.String(64), nullable=True))
        batch.add_column(sa.Column("previous_day", sa.String(10), nullable=True))
        batch.add_column(sa.Column("close_shipped_at", _AT, nullable=True))
    op.create_table(
        "audit_store",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("epoch", sa.String(32), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_store")
    with op.batch_alter_table("audit_chain_heads") as batch:
        for name in ("close_shipped_at", "previous_day", "start"):
            batch.drop_column(name)
