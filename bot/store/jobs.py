"""Jobs and their stages. Every method is one transaction; audit events go in the same one as the change."""

from __future__ import annotations

from collections.abc import Sequence, Set as AbstractSet
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.domain import (
    AuditEvent,
    EngineBookkeeping,
    ExpectedStatus,
    Job,
    JobStatus,
    RestorePlan,
    Stage,
    StageName,
    StageOutputs,
    StageStatus,
)
from bot.errors import DuplicateJobError, UnknownJobError
from bot.ports import MarkShare
from bot.store.audit_log import append_events
from bot.store.database import Database
from bot.store.schema import UtcDateTime, jobs, stages

_UNFINISHED = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
# The one bookkeeping field kept in a column of its own rather than in engine_state (the engine queries it).
_UNANNOUNCED = "finish_unannounced"


def _now() -> datetime:
    return datetime.now(UTC)


def transition_row(
    conn: Connection, job_id: str, expected: ExpectedStatus, new: JobStatus, unannounced: bool = False
) -> bool:
    """The status compare-and-set inside the caller's transaction (SqlJobs.transition, and a decision that writes
    its approval row with it); True when this call won the change."""
    wanted = {expected} if isinstance(expected, JobStatus) else set(expected)
    if not wanted:
        return False
    now = _now()
    values: dict[str, Any] = {"status": new.value, "updated_at": now}
    if unannounced:
        values[_UNANNOUNCED] = True
    stamp = sa.literal(now, UtcDateTime())
    if new is JobStatus.RUNNING:
        values["started_at"] = sa.func.coalesce(jobs.c.started_at, stamp)
    if new.finished:
        values["finished_at"] = sa.func.coalesce(jobs.c.finished_at, stamp)
    # One UPDATE with the expected status in its WHERE: the database decides the race, not Python.
    changed = conn.execute(
        jobs.update()
        .where(jobs.c.id == job_id, jobs.c.status.in_([status.value for status in wanted]))
        .values(**values)
    )
    return bool(changed.rowcount == 1)


def _job_values(job: Job, now: datetime) -> dict[str, Any]:
    # mode="json" turns datetimes and enums nested in the plan into what a JSON column can hold.
    data = job.model_dump(mode="json", include={"plan", "created_resources"})
    return {
        "requester": job.requester,
        "status": job.status.value,
        "is_drill": job.is_drill,
        "plan": data["plan"],
        # Typed outputs stored as their set fields only (the keys they had as a dict); bookkeeping apart.
        "outputs": job.outputs.set_fields(),
        "engine_state": job.engine.model_dump(mode="json", exclude={_UNANNOUNCED}),
        _UNANNOUNCED: job.engine.finish_unannounced,
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
        outputs=StageOutputs.model_validate(row["outputs"]),
        engine=EngineBookkeeping.model_validate({**row["engine_state"], _UNANNOUNCED: row[_UNANNOUNCED]}),
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


class SqlJobs:
    """The JobRepository port on SQLAlchemy."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add_job(self, job: Job, events: Sequence[AuditEvent] = ()) -> None:
        """Store a new job with its stages and the given audit events, all or nothing."""
        with self._db.transaction(write=True) as conn:
            try:
                conn.execute(jobs.insert().values(id=job.id, created_at=job.created_at, **_job_values(job, _now())))
            except sa.exc.IntegrityError as exc:
                raise DuplicateJobError(job.id) from exc
            if job.stages:
                conn.execute(stages.insert(), _stage_rows(job))
            append_events(conn, events)

    def save_job(self, job: Job, events: Sequence[AuditEvent] = ()) -> None:
        """Persist the job row, all its stages and the given audit events in one transaction."""
        with self._db.transaction(write=True) as conn:
            updated = conn.execute(jobs.update().where(jobs.c.id == job.id).values(**_job_values(job, _now())))
            if updated.rowcount != 1:
                raise UnknownJobError(job.id)
            # Rewriting the few stage rows is simpler than diffing them, and the transaction hides the gap.
            conn.execute(stages.delete().where(stages.c.job_id == job.id))
            if job.stages:
                conn.execute(stages.insert(), _stage_rows(job))
            append_events(conn, events)

    def request_cancel(self, job_id: str, actor: str, events: Sequence[AuditEvent] = ()) -> bool:
        """Ask the engine to cancel a queued or running job; False when it is not (or already asked)."""
        with self._db.transaction(write=True) as conn:
            changed = conn.execute(
                jobs.update()
                .where(
                    jobs.c.id == job_id,
                    jobs.c.status.in_([status.value for status in _UNFINISHED]),
                    jobs.c.cancel_requested_by.is_(None),
                )
                .values(cancel_requested_by=actor, updated_at=_now())
            )
            if changed.rowcount != 1:
                return False
            append_events(conn, events)
            return True

    def update_outputs(self, job_id: str, outputs: StageOutputs, engine: EngineBookkeeping | None = None) -> None:
        """Merge the fields set in `outputs` (and in `engine`) into the job's, without touching its status (a
        decision may be landing)."""
        with self._db.transaction(write=True) as conn:
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
                merged = engine.model_dump(mode="json", exclude_unset=True)
                if _UNANNOUNCED in merged:
                    values[_UNANNOUNCED] = merged.pop(_UNANNOUNCED)
                values["engine_state"] = {**current.engine_state, **merged}
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(**values))

    def transition(
        self,
        job_id: str,
        expected: ExpectedStatus,
        new: JobStatus,
        events: Sequence[AuditEvent] = (),
        unannounced: bool = False,
    ) -> bool:
        """Move the job to `new` only if its status is in `expected`; True when this call won the change.

        Entering RUNNING stamps started_at and entering a finished status stamps finished_at, unless already set.
        The events are recorded only when the change happens.
        """
        with self._db.transaction(write=True) as conn:
            if not transition_row(conn, job_id, expected, new, unannounced):
                return False
            append_events(conn, events)
            return True

    def awaiting_approval(self, created_before: datetime) -> list[Job]:
        """Requests awaiting a decision made before `created_before`, oldest first: what the sweeper expires."""
        query = (
            jobs.select()
            .where(jobs.c.status == JobStatus.AWAITING_APPROVAL.value, jobs.c.created_at < created_before)
            .order_by(jobs.c.created_at, jobs.c.id)
        )
        with self._db.transaction(write=False) as conn:
            return _load_jobs(conn, query)

    def get_job(self, job_id: str) -> Job | None:
        """The job with its stages, or None."""
        with self._db.transaction(write=False) as conn:
            found = _load_jobs(conn, jobs.select().where(jobs.c.id == job_id))
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
        with self._db.transaction(write=False) as conn:
            return _load_jobs(conn, query)

    def count_by_status(self) -> dict[str, int]:
        """How many jobs are in each status (metrics); one indexed GROUP BY, however many jobs there are."""
        query = sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)
        with self._db.transaction(write=False) as conn:
            return {str(status): int(count) for status, count in conn.execute(query)}

    def unfinished_jobs(self) -> list[Job]:
        """Queued and running jobs, oldest first: what to resume after a restart."""
        query = (
            jobs.select()
            .where(jobs.c.status.in_([status.value for status in _UNFINISHED]))
            .order_by(jobs.c.created_at, jobs.c.id)
        )
        with self._db.transaction(write=False) as conn:
            return _load_jobs(conn, query)

    def finished_unannounced(
        self, statuses: AbstractSet[JobStatus], limit: int = 50, withdrawals: bool = False
    ) -> list[Job]:
        """Jobs in `statuses` whose finish was never handed to the notifier (the process died first), oldest first;
        a withdrawal (Job.withdrawn) only with `withdrawals`."""
        return self.finished_unannounced_shares([MarkShare(statuses, withdrawals)], limit)

    def finished_unannounced_shares(self, shares: Sequence[MarkShare], limit_each: int = 50) -> list[Job]:
        """Each share's oldest `limit_each` marked jobs in one round trip: a UNION ALL of a limited SELECT per share
        (one limit over them all let one share's backlog take every row). A job two shares list is dropped here, by
        id, rather than by a plain UNION comparing whole rows."""
        parts = [sa.select(_marked(share).limit(limit_each).subquery()) for share in shares]
        if not parts:
            return []
        union = sa.union_all(*parts).subquery()
        query = sa.select(union).order_by(_mark_age(union.c), union.c.id)
        with self._db.transaction(write=False) as conn:
            found = _load_jobs(conn, query)
        return list({job.id: job for job in found}.values())


def _mark_age(columns: sa.ColumnCollection[str, Any]) -> sa.ColumnElement[Any]:
    """Oldest first, by the finish, else by the last write: an approved job (queued, running) has no finish yet, and
    a NULL would sort first on SQLite but last on PostgreSQL. tests/unit/memory_store.py sorts the same way."""
    return sa.func.coalesce(columns.finished_at, columns.updated_at)


def _marked(share: MarkShare) -> sa.Select[Any]:
    """One share's marked jobs, oldest first (MarkShare.lists in SQL)."""
    withdrawal = sa.and_(jobs.c.status == JobStatus.CANCELLED.value, jobs.c.cancel_requested_by.is_(None))
    wanted = sa.and_(jobs.c.status.in_([status.value for status in share.statuses]), sa.not_(withdrawal))
    return (
        jobs.select()
        .where(jobs.c.finish_unannounced.is_(True), sa.or_(wanted, withdrawal) if share.withdrawals else wanted)
        .order_by(_mark_age(jobs.c), jobs.c.id)
    )
