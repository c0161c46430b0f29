"""Drill runs: one row per scheduled or chat-started restore drill, its details as JSON.

Revision ID: 0002d
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002d"
down_revision: str | tuple[str, ...] | None = "0001"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

# Spelled out here, not imported from bot: a revision must keep describing the schema of its day.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create drill_runs."""
    op.create_table(
        "drill_runs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("drill_name", sa.String(64), nullable=False),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16)),
        sa.Column("job_id", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drill_runs"),
    )
    op.create_index("ix_drill_runs_drill_name_created_at", "drill_runs", ["drill_name", "created_at"])
    op.create_index("ix_drill_runs_phase", "drill_runs", ["phase"])


def downgrade() -> None:
    """Drop drill_runs."""
    op.drop_table("drill_runs")
