"""The Slack outbox: every Slack write is a row, sent in order per key, retried across restarts, parked when Slack
says it can never succeed.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | tuple[str, ...] | None = "0008"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    """A new table; nothing to move (the old outbox lived in memory)."""
    op.create_table(
        "slack_outbox",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("job_id", sa.String(64)),
        sa.Column("ref", sa.String(128)),
        sa.Column("thread_ref", sa.String(128)),
        sa.Column("target_ref", sa.String(128)),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("unconfirmed", sa.Boolean, nullable=False),
        sa.Column("not_before", _AT),
        sa.Column("lease_until", _AT),
        sa.Column("first_attempt_at", _AT),
        sa.Column("error", sa.Text),
        sa.Column("ts", sa.String(32)),
        sa.Column("posted_channel", sa.String(64)),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("delivered_at", _AT),
        sa.PrimaryKeyConstraint("id", name="pk_slack_outbox"),
        sa.UniqueConstraint("uid", name="uq_slack_outbox_uid"),
        sa.UniqueConstraint("ref", name="uq_slack_outbox_ref"),
    )
    op.create_index("ix_slack_outbox_state_key_id", "slack_outbox", ["state", "key", "id"])
    op.create_index("ix_slack_outbox_target_ref_state", "slack_outbox", ["target_ref", "state"])


def downgrade() -> None:
    op.drop_index("ix_slack_outbox_target_ref_state", table_name="slack_outbox")
    op.drop_index("ix_slack_outbox_state_key_id", table_name="slack_outbox")
    op.drop_table("slack_outbox")
