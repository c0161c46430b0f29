"""Jobs, their stages, approvals and the audit trail.

Revision ID: 0001
Revises:
Create Date: 2024-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

# Spelled out here, not imported from bot.store: a revision must keep describing the schema of its day.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _timestamp(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create jobs, stages, approvals and audit_events."""
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("requester", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("is_drill", sa.Boolean, nullable=False),
        sa.Column("plan", _JSON, nullable=False),
        sa.Column("outputs", _JSON, nullable=False),
        sa.Column("created_resources", _JSON, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("percent_complete", sa.Integer, nullable=False),
        _timestamp("created_at", nullable=False),
        _timestamp("started_at"),
        _timestamp("finished_at"),
        _timestamp("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_status_created_at", "jobs", ["status", "created_at"])
    op.create_index("ix_jobs_created_at", "jobs", ["created_at"])

    op.create_table(
        "stages",
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        _timestamp("started_at"),
        _timestamp("finished_at"),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.PrimaryKeyConstraint("job_id", "position", name="pk_stages"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_stages_job_id_jobs"),
    )

    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        _timestamp("at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_approvals_job_id_jobs"),
    )
    op.create_index("ix_approvals_job_id", "approvals", ["job_id"])

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        _timestamp("at", nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(64)),
        sa.Column("detail", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_job_id_id", "audit_events", ["job_id", "id"])
    op.create_index("ix_audit_events_at", "audit_events", ["at"])


def downgrade() -> None:
    """Drop the four tables; every job and audit event goes with them."""
    op.drop_table("audit_events")
    op.drop_table("approvals")
    op.drop_table("stages")
    op.drop_table("jobs")
