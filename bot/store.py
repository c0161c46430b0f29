"""Jobs, their stages, approvals and the audit trail on SQLAlchemy: a SQLite file by default, PostgreSQL by URL.

Every method is one transaction. Timestamps go in and come out timezone-aware UTC on every backend.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from pydantic import BaseModel, ConfigDict
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from bot import audit_chain
from bot.domain import (  # PORT: EngineBookkeeping and StageOutputs (revision 0005)
    AuditEvent,
    EngineBookkeeping,
    Job,
    JobStatus,
    RestorePlan,
    Stage,
    StageName,
    StageOutputs,
    StageStatus,
)
from bot.errors import RdsbotError
from bot.pg_locks import lock_for_transaction

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# SQLite waits this long for another writer instead of failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any constant shared by every rdsbot process; it only has to differ from other apps' advisory locks.
_MIGRATION_LOCK_KEY = 0x7264_7362_6F74  # "rdsbot"
_OUTBOX_LOCK_KEY = 0x7264_7362_6F75  # serializes audit batch claims between bot processes on PostgreSQL
_READ_ONLY = "rdsbot_read_only"
_UNFINISHED = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})


class UnknownJobError(RdsbotError):
    """The job id names no stored job."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"job {job_id} does not exist")


class DuplicateJobError(RdsbotError):
    """A job with this id is already stored."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"job {job_id} already exists")


class ApprovalDecision(StrEnum):
    """What an approver said about a job."""

    APPROVED = "approved"
    DENIED = "denied"


class Approval(BaseModel):
    """One approver's decision on a job; a job may collect several (two-person rule)."""

    model_config = ConfigDict(frozen=True)

    id: int | None = None
    job_id: str
    actor: str
    decision: ApprovalDecision
    reason: str | None = None
    at: datetime


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


_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

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
    sa.Column("plan", _JSON, nullable=False),
    sa.Column("outputs", _JSON, nullable=False),
    # PORT: what the engine remembers to drive the job (EngineBookkeeping), apart from what it produced (0005).
    sa.Column("engine_state", _JSON, nullable=False, server_default="{}"),
    sa.Column("created_resources", _JSON, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("percent_complete", sa.Integer, nullable=False),
    # Written only by request_cancel, never by save_job: an engine saving its copy cannot undo a cancel request.
    sa.Column("cancel_requested_by", sa.String(255)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("started_at", UtcDateTime),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # list_jobs by status and unfinished_jobs, both ordered by age; list_jobs with no filter by age alone.
    sa.Index(None, "status", "created_at"),
    sa.Index(None, "created_at"),
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

# PORT: where each job's chat thread is, per chat surface ("slack"); read and written by ChatThreadStore
# (bot/chat_threads_store.py), kept out of the job's outputs (0005).
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
    sa.Column("detail", _JSON, nullable=False),
    # The hash chain (revision 0002). Nullable only because SQLite cannot add NOT NULL columns without a table
    # rebuild; the store fills them on every insert and 0002 backfilled the older rows.
    sa.Column("iam_user", sa.String(255)),
    sa.Column("day", sa.String(10)),
    sa.Column("seq", sa.Integer),
    sa.Column("prev_hash", sa.String(64)),
    sa.Column("hash", sa.String(64)),
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
)


def _now() -> datetime:
    return datetime.now(UTC)


def alembic_config(connection: Connection) -> Config:
    """An Alembic config for the packaged migrations, bound to `connection` (no alembic.ini involved)."""
    config = Config()
    # ConfigParser interpolates '%', which a checkout path may contain.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def upgrade_schema(engine: Engine, revision: str = "heads") -> None:
    """Migrate the database to `revision` in one transaction; a no-op when it is already there."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two bots starting at once must not both create the tables; the second waits, then finds head.
            lock_for_transaction(connection, _MIGRATION_LOCK_KEY)
        command.upgrade(alembic_config(connection), revision)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any, *, in_memory: bool) -> None:
    # Take BEGIN into our own hands: the driver's legacy mode skips it for SELECT and DDL.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if not in_memory:
            # Readers never block the writer and the writer never blocks readers.
            cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()
    # Foreign keys stay unenforced on SQLite on purpose: with them on, the table rebuilds of Alembic batch
    # migrations cascade an implicit DELETE; PostgreSQL enforces them.


def _sqlite_on_begin(connection: Connection) -> None:
    # Writers take the write lock up front, so a concurrent writer queues on busy_timeout instead of failing
    # when it would upgrade a read lock; readers start a deferred transaction that sees one snapshot.
    mode = "DEFERRED" if connection.get_execution_options().get(_READ_ONLY) else "IMMEDIATE"
    connection.exec_driver_sql(f"BEGIN {mode}")


def _create_engine(url: str | sa.URL) -> tuple[Engine, bool]:
    """The engine for `url`, and whether it is a single shared in-memory SQLite connection."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True), False
    in_memory = parsed.database in (None, "", ":memory:")
    if in_memory:
        # One connection shared by every thread, or each thread would see its own empty database.
        engine = sa.create_engine(parsed, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        engine = sa.create_engine(parsed)
    sa.event.listen(engine, "connect", lambda conn, rec: _sqlite_on_connect(conn, rec, in_memory=in_memory))
    sa.event.listen(engine, "begin", _sqlite_on_begin)
    return engine, in_memory


def _event_rows(events: Sequence[AuditEvent]) -> list[dict[str, Any]]:
    return [
        {
            "at": event.at,
            "actor": event.actor,
            "action": event.action,
            "job_id": event.job_id,
            "detail": audit_chain.json_value(event.model_dump(mode="json", include={"detail"})["detail"]),
            "iam_user": event.iam_user,
            "day": audit_chain.day_of(event.at),
        }
        for event in events
    ]


def _chain_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored event as the chain hashes it."""
    return {**row, "at": audit_chain.timestamp(row["at"])}


def _event_from_row(row: sa.RowMapping) -> AuditEvent:
    return AuditEvent(
        id=row["id"],
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        job_id=row["job_id"],
        detail=row["detail"],
        iam_user=row["iam_user"],
        seq=row["seq"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


def event_record(event: AuditEvent) -> dict[str, Any]:
    """A stored event as one chain record (what is hashed, plus its id and hash): the shape shipped to S3."""
    return {
        "id": event.id,
        "day": audit_chain.day_of(event.at),
        "seq": event.seq,
        "at": audit_chain.timestamp(event.at),
        "actor": event.actor,
        "iam_user": event.iam_user,
        "action": event.action,
        "job_id": event.job_id,
        "detail": event.detail,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def _lock_chain_head(conn: Connection, day: str) -> tuple[int, str]:
    """The day's last (seq, hash), its row locked until commit; created at the genesis value for a new day."""
    dialect = conn.dialect.name
    start = {"day": day, "seq": 0, "hash": audit_chain.genesis(day)}
    if dialect in ("postgresql", "sqlite"):
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(audit_chain_heads)
        # Two writers opening a day at once: the second waits on the first's key, then does nothing.
        conn.execute(insert.values(**start).on_conflict_do_nothing(index_elements=["day"]))
    elif conn.execute(sa.select(audit_chain_heads.c.day).where(audit_chain_heads.c.day == day)).first() is None:
        conn.execute(audit_chain_heads.insert().values(**start))
    # FOR UPDATE on PostgreSQL; SQLite writers already hold the database write lock (BEGIN IMMEDIATE).
    query = sa.select(audit_chain_heads.c.seq, audit_chain_heads.c.hash).where(audit_chain_heads.c.day == day)
    row = conn.execute(query.with_for_update() if dialect == "postgresql" else query).one()
    return int(row.seq), str(row.hash)


def _job_values(job: Job, now: datetime) -> dict[str, Any]:
    # mode="json" turns datetimes and enums nested in the plan into what a JSON column can hold.
    data = job.model_dump(mode="json", include={"plan", "created_resources"})
    return {
        "requester": job.requester,
        "status": job.status.value,
        "is_drill": job.is_drill,
        "plan": data["plan"],
        # PORT: typed outputs stored as their set fields only (the keys they had as a dict); bookkeeping apart.
        "outputs": job.outputs.set_fields(),
        "engine_state": job.engine.model_dump(mode="json"),
        "created_resources": data["created_resources"],
        "error": job.error,
        "percent_complete": job.percent_complete,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "updated_at": now,
    }


def _stage_rows(job: Job) -> list[dict[str, Any]]:
    return [
        {
            "job_id": job.id,
            "position": position,
            "name": stage.name.value,
            "status": stage.status.value,
            "started_at": stage.started_at,
            "finished_at": stage.finished_at,
            "detail": stage.detail,
            "error": stage.error,
        }
        for position, stage in enumerate(job.stages)
    ]


def _job_from_row(row: sa.RowMapping, job_stages: list[Stage]) -> Job:
    return Job(
        id=row["id"],
        requester=row["requester"],
        plan=RestorePlan.model_validate(row["plan"]),
        status=JobStatus(row["status"]),
        stages=job_stages,
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=row["error"],
        # PORT: the typed outputs and the engine bookkeeping (0005).
        outputs=StageOutputs.model_validate(row["outputs"]),
        engine=EngineBookkeeping.model_validate(row["engine_state"]),
        created_resources=row["created_resources"],
        is_drill=row["is_drill"],
        percent_complete=row["percent_complete"],
        cancel_requested_by=row["cancel_requested_by"],
    )


def _stage_from_row(row: sa.RowMapping) -> Stage:
    return Stage(
        name=StageName(row["name"]),
        status=StageStatus(row["status"]),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        detail=row["detail"],
        error=row["error"],
    )


class JobStore:
    """Durable jobs, stages, approvals and audit events; migrates the database to head when opened."""

    def __init__(self, url: str | sa.URL) -> None:
        self._engine, in_memory = _create_engine(url)
        # The in-memory database is one shared connection: transactions must take turns on it.
        self._turn: AbstractContextManager[object] = threading.Lock() if in_memory else nullcontext()
        try:
            with self._turn:
                upgrade_schema(self._engine)
        except BaseException:
            self._engine.dispose()
            raise

    @property
    def engine(self) -> Engine:
        """The underlying engine, for diagnostics and tests."""
        return self._engine

    def close(self) -> None:
        """Release every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Connection]:
        with self._turn, self._engine.connect() as connection:
            if not write:
                connection.execution_options(**{_READ_ONLY: True})
                if connection.dialect.name == "postgresql":
                    # A job and its stages are read from one snapshot, never half of a concurrent save.
                    connection.execution_options(isolation_level="REPEATABLE READ")
            try:
                with connection.begin():
                    yield connection
            except sa.exc.StatementError as exc:
                # A value our types refused (a naive datetime) surfaces as itself, not wrapped as a SQL error.
                if type(exc) is sa.exc.StatementError and isinstance(exc.orig, ValueError):
                    raise exc.orig from exc
                raise

    # Jobs

    def add_job(self, job: Job, events: Sequence[AuditEvent] = ()) -> None:
        """Store a new job with its stages and the given audit events, all or nothing."""
        with self._transaction(write=True) as conn:
            try:
                conn.execute(jobs.insert().values(id=job.id, created_at=job.created_at, **_job_values(job, _now())))
            except sa.exc.IntegrityError as exc:
                raise DuplicateJobError(job.id) from exc
            if job.stages:
                conn.execute(stages.insert(), _stage_rows(job))
            self._insert_events(conn, events)

    def save_job(self, job: Job, events: Sequence[AuditEvent] = ()) -> None:
        """Persist the job row, all its stages and the given audit events in one transaction."""
        with self._transaction(write=True) as conn:
            updated = conn.execute(jobs.update().where(jobs.c.id == job.id).values(**_job_values(job, _now())))
            if updated.rowcount != 1:
                raise UnknownJobError(job.id)
            # Rewriting the few stage rows is simpler than diffing them, and the transaction hides the gap.
            conn.execute(stages.delete().where(stages.c.job_id == job.id))
            if job.stages:
                conn.execute(stages.insert(), _stage_rows(job))
            self._insert_events(conn, events)

    def request_cancel(self, job_id: str, actor: str, events: Sequence[AuditEvent] = ()) -> bool:
        """Ask the engine to cancel a queued or running job; False when it is not (or already asked)."""
        with self._transaction(write=True) as conn:
            changed = conn.execute(
                jobs.update()
                .where(
                    jobs.c.id == job_id,
                    jobs.c.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]),
                    jobs.c.cancel_requested_by.is_(None),
                )
                .values(cancel_requested_by=actor, updated_at=_now())
            )
            if changed.rowcount != 1:
                return False
            self._insert_events(conn, events)
            return True

    # PORT: typed arguments; bookkeeping (the audit record's retry flag) lands in the same transaction.
    def update_outputs(self, job_id: str, outputs: StageOutputs, engine: EngineBookkeeping | None = None) -> None:
        """Merge the fields set in `outputs` (and in `engine`) into the job's, without touching its status (a
        decision may be landing)."""
        with self._transaction(write=True) as conn:
            query = sa.select(jobs.c.outputs, jobs.c.engine_state).where(jobs.c.id == job_id)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            current = conn.execute(query).first()
            if current is None:
                raise UnknownJobError(job_id)
            # exclude_unset: a field set to None or False on purpose is written; one never set is left alone.
            values: dict[str, Any] = {
                "outputs": {**current.outputs, **outputs.model_dump(mode="json", exclude_unset=True)},
                "updated_at": _now(),
            }
            if engine is not None:
                values["engine_state"] = {**current.engine_state, **engine.model_dump(mode="json", exclude_unset=True)}
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(**values))

    def transition(
        self,
        job_id: str,
        expected: JobStatus | AbstractSet[JobStatus],
        new: JobStatus,
        events: Sequence[AuditEvent] = (),
    ) -> bool:
        """Move the job to `new` only if its status is in `expected`; True when this call won the change.

        Entering RUNNING stamps started_at and entering a finished status stamps finished_at, unless already set.
        The events are recorded only when the change happens.
        """
        wanted = {expected} if isinstance(expected, JobStatus) else set(expected)
        if not wanted:
            return False
        now = _now()
        values: dict[str, Any] = {"status": new.value, "updated_at": now}
        stamp = sa.literal(now, UtcDateTime())
        if new is JobStatus.RUNNING:
            values["started_at"] = sa.func.coalesce(jobs.c.started_at, stamp)
        if new.finished:
            values["finished_at"] = sa.func.coalesce(jobs.c.finished_at, stamp)
        with self._transaction(write=True) as conn:
            # One UPDATE with the expected status in its WHERE: the database decides the race, not Python.
            changed = conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.status.in_([status.value for status in wanted]))
                .values(**values)
            )
            if changed.rowcount != 1:
                return False
            self._insert_events(conn, events)
            return True

    def get_job(self, job_id: str) -> Job | None:
        """The job with its stages, or None."""
        with self._transaction(write=False) as conn:
            found = self._load_jobs(conn, jobs.select().where(jobs.c.id == job_id))
        return found[0] if found else None

    def list_jobs(
        self, statuses: set[JobStatus] | None = None, limit: int = 50, is_drill: bool | None = None
    ) -> list[Job]:
        """Up to `limit` jobs, newest first, optionally only those in `statuses` and of one drill kind."""
        query = jobs.select().order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit)
        if statuses is not None:
            query = query.where(jobs.c.status.in_([status.value for status in statuses]))
        if is_drill is not None:
            query = query.where(jobs.c.is_drill == is_drill)
        with self._transaction(write=False) as conn:
            return self._load_jobs(conn, query)

    def unfinished_jobs(self) -> list[Job]:
        """Queued and running jobs, oldest first: what to resume after a restart."""
        query = (
            jobs.select()
            .where(jobs.c.status.in_([status.value for status in _UNFINISHED]))
            .order_by(jobs.c.created_at, jobs.c.id)
        )
        with self._transaction(write=False) as conn:
            return self._load_jobs(conn, query)

    # Approvals

    def add_approval(
        self, job_id: str, actor: str, decision: ApprovalDecision, reason: str | None, at: datetime
    ) -> Approval:
        """Record one approver's decision on a stored job; UnknownJobError when there is no such job."""
        with self._transaction(write=True) as conn:
            # Checked here rather than left to the foreign key, which SQLite does not enforce.
            if conn.execute(sa.select(jobs.c.id).where(jobs.c.id == job_id)).first() is None:
                raise UnknownJobError(job_id)
            approval_id = conn.execute(
                approvals.insert()
                .values(job_id=job_id, actor=actor, decision=ApprovalDecision(decision).value, reason=reason, at=at)
                .returning(approvals.c.id)
            ).scalar_one()
        return Approval(id=approval_id, job_id=job_id, actor=actor, decision=decision, reason=reason, at=at)

    def approvals(self, job_id: str) -> list[Approval]:
        """The job's approval decisions in the order they were made."""
        query = approvals.select().where(approvals.c.job_id == job_id).order_by(approvals.c.id)
        with self._transaction(write=False) as conn:
            rows = conn.execute(query).mappings().all()
        return [
            Approval(
                id=row["id"],
                job_id=row["job_id"],
                actor=row["actor"],
                decision=ApprovalDecision(row["decision"]),
                reason=row["reason"],
                at=row["at"],
            )
            for row in rows
        ]

    # Audit trail

    def record_audit(self, events: Sequence[AuditEvent]) -> None:
        """Append audit events that go with no job change."""
        with self._transaction(write=True) as conn:
            self._insert_events(conn, events)

    def audit_events(self, job_id: str | None = None, since: datetime | None = None) -> list[AuditEvent]:
        """Audit events in insertion order, optionally of one job and at or after `since`."""
        query = audit_events.select().order_by(audit_events.c.id)
        if job_id is not None:
            query = query.where(audit_events.c.job_id == job_id)
        if since is not None:
            query = query.where(audit_events.c.at >= since)
        with self._transaction(write=False) as conn:
            rows = conn.execute(query).mappings().all()
        return [_event_from_row(row) for row in rows]

    def audit_day(self, day: str) -> tuple[list[AuditEvent], tuple[int, str] | None]:
        """One UTC day's chain in order, and its head (last seq, hash) read in the same snapshot."""
        query = audit_events.select().where(audit_events.c.day == day).order_by(audit_events.c.seq)
        head_query = sa.select(audit_chain_heads.c.seq, audit_chain_heads.c.hash).where(audit_chain_heads.c.day == day)
        with self._transaction(write=False) as conn:
            rows = conn.execute(query).mappings().all()
            head = conn.execute(head_query).first()
        return [_event_from_row(row) for row in rows], (int(head.seq), str(head.hash)) if head else None

    # Audit outbox: events are frozen into deterministic batches, then marked shipped once S3 has the object.

    def claim_audit_batches(self, key_for: Callable[[str, int, int], str], limit: int = 500) -> list[str]:
        """Keys of batches frozen but not yet shipped, oldest first; when none, freeze the next (up to `limit`).

        A frozen batch never changes, so a retry after an ambiguous failure writes the same key with the same
        bytes. `key_for(day, first_seq, last_seq)` names the object.
        """
        with self._transaction(write=True) as conn:
            if conn.dialect.name == "postgresql":
                lock_for_transaction(conn, _OUTBOX_LOCK_KEY)
            first = sa.func.min(audit_events.c.id)
            frozen = conn.execute(
                sa.select(audit_events.c.batch_key, first)
                .where(audit_events.c.batch_key.is_not(None), audit_events.c.shipped_at.is_(None))
                .group_by(audit_events.c.batch_key)
                .order_by(first)
            ).all()
            if frozen:
                return [str(row.batch_key) for row in frozen]
            rows = conn.execute(
                sa.select(audit_events.c.day, audit_events.c.seq)
                .where(audit_events.c.batch_key.is_(None))
                .order_by(audit_events.c.day, audit_events.c.seq)
                .limit(limit)
            ).all()
            if not rows:
                return []
            day = rows[0].day
            run = [row.seq for row in rows if row.day == day]
            key = key_for(day, run[0], run[-1])
            conn.execute(
                audit_events.update()
                .where(audit_events.c.day == day, audit_events.c.seq.between(run[0], run[-1]))
                .values(batch_key=key)
            )
            return [key]

    def audit_batch(self, key: str) -> list[AuditEvent]:
        """The events frozen into one batch, in chain order."""
        query = audit_events.select().where(audit_events.c.batch_key == key).order_by(audit_events.c.seq)
        with self._transaction(write=False) as conn:
            return [_event_from_row(row) for row in conn.execute(query).mappings().all()]

    def mark_audit_shipped(self, key: str, at: datetime) -> int:
        """Record that S3 accepted the batch's object; returns how many events this call marked."""
        with self._transaction(write=True) as conn:
            marked = conn.execute(
                audit_events.update()
                .where(audit_events.c.batch_key == key, audit_events.c.shipped_at.is_(None))
                .values(shipped_at=at)
            )
            return int(marked.rowcount)

    def unshipped_audit_events(self) -> int:
        """How many audit events S3 has not accepted yet."""
        query = sa.select(sa.func.count()).select_from(audit_events).where(audit_events.c.shipped_at.is_(None))
        with self._transaction(write=False) as conn:
            return int(conn.execute(query).scalar_one())

    # Helpers

    @staticmethod
    def _insert_events(conn: Connection, events: Sequence[AuditEvent]) -> None:
        if not events:
            return
        rows = _event_rows(events)
        # Heads are locked in day order, so two writers spanning midnight cannot deadlock each other.
        heads = {day: _lock_chain_head(conn, day) for day in sorted({row["day"] for row in rows})}
        for row in rows:
            seq, previous = heads[row["day"]]
            row.update(seq=seq + 1, prev_hash=previous)
            row["hash"] = audit_chain.digest(_chain_record(row))
            heads[row["day"]] = (seq + 1, row["hash"])
        conn.execute(audit_events.insert(), rows)
        for day, (seq, last) in heads.items():
            conn.execute(audit_chain_heads.update().where(audit_chain_heads.c.day == day).values(seq=seq, hash=last))

    @staticmethod
    def _load_jobs(conn: Connection, query: sa.Select[Any]) -> list[Job]:
        rows = conn.execute(query).mappings().all()
        if not rows:
            return []
        by_job: dict[str, list[Stage]] = {row["id"]: [] for row in rows}
        stage_rows = conn.execute(
            stages.select().where(stages.c.job_id.in_(list(by_job))).order_by(stages.c.job_id, stages.c.position)
        ).mappings()
        for stage_row in stage_rows:
            by_job[stage_row["job_id"]].append(_stage_from_row(stage_row))
        return [_job_from_row(row, by_job[row["id"]]) for row in rows]
