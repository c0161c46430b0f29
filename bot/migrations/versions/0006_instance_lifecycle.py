"""Instance lifecycle: one row per finished restore job, when its instance is deleted and how far that got.

Existing finished jobs get their rows from the lifecycle runner's first tick; their plans carry no keep window,
so they are recorded as unmanaged and never deleted by an upgrade.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | tuple[str, ...] | None = "0005"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "instance_lifecycles",
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("delete_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("state", _JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_instance_lifecycles_job_id_jobs"),
        sa.PrimaryKeyConstraint("job_id", name="pk_instance_lifecycles"),
    )
    op.create_index("ix_instance_lifecycles_phase_delete_at", "instance_lifecycles", ["phase", "delete_at"])


def downgrade() -> None:
    op.drop_index("ix_instance_lifecycles_phase_delete_at", table_name="instance_lifecycles")
    op.drop_table("instance_lifecycles")
