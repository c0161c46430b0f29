"""The job store's tables, one SQLAlchemy metadata for every repository and for Alembic's autogenerate.

Revisions under bot/migrations never import this module: a revision keeps describing the schema of its day.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware, SQLite included."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            # A naive value is ambiguous (local time? utcnow()?); refusing it beats storing a wrong hour.
            raise ValueError(f"naive datetime {value.isoformat()}: the store takes timezone-aware timestamps only")
        utc = value.astimezone(UTC)
        # SQLite has no zone-aware type: naive UTC text keeps ordering and comparisons right.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

# Named constraints let later migrations (and SQLite batch mode) refer to them.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("requester", sa.String(255), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("is_drill", sa.Boolean, nullable=False),
    sa.Column("plan", JSON, nullable=False),
    sa.Column("outputs", JSON, nullable=False),
    # What the engine remembers to drive the job (EngineBookkeeping), apart from what it produced (revision 0005).
    sa.Column("engine_state", JSON, nullable=False, server_default="{}"),
    sa.Column("created_resources", JSON, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("percent_complete", sa.Integer, nullable=False),
    # Written only by request_cancel, never by save_job: an engine saving its copy cannot undo a cancel request.
    sa.Column("cancel_requested_by", sa.String(255)),
    # EngineBookkeeping.finish_unannounced (revision 0010): a column, indexed, since the engine looks it up each tick.
    sa.Column("finish_unannounced", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("started_at", UtcDateTime),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # list_jobs by status and unfinished_jobs, both ordered by age; list_jobs with no filter by age alone.
    sa.Index(None, "status", "created_at"),
    sa.Index(None, "created_at"),
    sa.Index(None, "finish_unannounced"),
)

stages = sa.Table(
    "stages",
    metadata,
    sa.Column("job_id", sa.String(64), sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(32), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("started_at", UtcDateTime),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("error", sa.Text),
)

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(64), sa.ForeignKey("jobs.id"), nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Index(None, "job_id"),
)

# Where each job's chat thread is, per chat surface ("slack"), kept out of the job's outputs (revision 0005).
chat_threads = sa.Table(
    "chat_threads",
    metadata,
    sa.Column("job_id", sa.String(64), sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("surface", sa.String(16), primary_key=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("thread_ts", sa.String(32), nullable=False),
)

# No foreign key to jobs: the trail also records refusals that never became a job, and must outlive any cleanup.
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("job_id", sa.String(64)),
    sa.Column("detail", JSON, nullable=False),
    # The hash chain (revision 0002). Nullable only because SQLite cannot add NOT NULL columns without a table
    # rebuild; the store fills them on every insert and 0002 backfilled the older rows.
    sa.Column("iam_user", sa.String(255)),
    sa.Column("day", sa.String(10)),
    sa.Column("seq", sa.Integer),
    sa.Column("prev_hash", sa.String(64)),
    sa.Column("hash", sa.String(64)),
    # Where the event came in (revision 0008); NULL on older events, which hash without it.
    sa.Column("surface", sa.String(16)),
    # The outbox: the S3 object an event was frozen into, and when S3 accepted that object.
    sa.Column("batch_key", sa.String(512)),
    sa.Column("shipped_at", UtcDateTime),
    sa.Index(None, "job_id", "id"),
    sa.Index(None, "at"),
    sa.Index(None, "day", "seq", unique=True),
    sa.Index(None, "shipped_at", "batch_key"),
)

# One row per UTC day: the last link of that day's chain. Writers lock it, so links are appended one at a time.
audit_chain_heads = sa.Table(
    "audit_chain_heads",
    metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    # Revision 0006. `start`: what the day's first event links to (the previous day's head, or the day's genesis);
    # NULL on days opened before days were linked, which start at their genesis and ship in the older key layout.
    sa.Column("start", sa.String(64)),
    sa.Column("previous_day", sa.String(10)),
    # When S3 accepted the day's close object (bot/audit_layout.DayClose); NULL while the day is open or unsent.
    sa.Column("close_shipped_at", UtcDateTime),
)

# One row: the store's epoch, drawn once, in every S3 key this store writes (bot/audit_layout.py).
audit_store = sa.Table(
    "audit_store",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("epoch", sa.String(32), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# The columns rdsbot queries drill runs by; everything else about a run lives in `state`.
drill_runs = sa.Table(
    "drill_runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("drill_name", sa.String(64), nullable=False),
    sa.Column("phase", sa.String(32), nullable=False),
    sa.Column("outcome", sa.String(16)),
    sa.Column("job_id", sa.String(64)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("state", JSON, nullable=False),
    sa.Index(None, "drill_name", "created_at"),
    sa.Index(None, "phase"),
)

# One row per finished restore job: when its instance goes and how far its deletion got (revision 0006). The
# columns rdsbot queries by; the rest of the record lives in `state`; `version` makes every write a compare-and-set.
instance_lifecycles = sa.Table(
    "instance_lifecycles",
    metadata,
    sa.Column("job_id", sa.String(64), sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("phase", sa.String(16), nullable=False),
    sa.Column("delete_at", UtcDateTime),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("state", JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index(None, "phase", "delete_at"),
)


# Every Slack write, durable (revision 0009): written before it is sent, ordered per `key`, marked delivered only
# once Slack answered, parked as a dead letter on a permanent error. No foreign key to jobs: drill reports have none.
slack_outbox = sa.Table(
    "slack_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uid", sa.String(32), nullable=False, unique=True),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("method", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(128), nullable=False),
    sa.Column("job_id", sa.String(64)),
    sa.Column("ref", sa.String(128), unique=True),
    sa.Column("thread_ref", sa.String(128)),
    sa.Column("target_ref", sa.String(128)),
    sa.Column("payload", JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("unconfirmed", sa.Boolean, nullable=False),
    sa.Column("not_before", UtcDateTime),
    sa.Column("lease_until", UtcDateTime),
    sa.Column("first_attempt_at", UtcDateTime),
    sa.Column("error", sa.Text),
    sa.Column("ts", sa.String(32)),
    sa.Column("posted_channel", sa.String(64)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("delivered_at", UtcDateTime),
    # The heads query (oldest pending per key), the depth and dead-letter counts.
    sa.Index(None, "state", "key", "id"),
    sa.Index(None, "target_ref", "state"),
)
