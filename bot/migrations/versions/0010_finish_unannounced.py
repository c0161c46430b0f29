"""Jobs remember a finish not yet announced (EngineBookkeeping.finish_unannounced), in an indexed column the
engine looks up each tick.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | tuple[str, ...] | None = "0009"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """False for every existing job: what finished before this revision was announced then (or never will be)."""
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("finish_unannounced", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.create_index("ix_jobs_finish_unannounced", ["finish_unannounced"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_finish_unannounced")
        batch.drop_column("finish_unannounced")
