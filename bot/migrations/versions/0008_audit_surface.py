"""Audit events record the surface they came in through (slack, console, drill, cli, engine).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26

Nullable, with no backfill: an older event's surface is unknown, and writing one in would change nothing it hashes
(the canonical form leaves an absent surface out), yet claim knowledge nobody recorded.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | tuple[str, ...] | None = "0007"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("surface", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("surface")
