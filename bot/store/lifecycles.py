"""Instance lifecycle records beside the jobs: one row per finished restore job, every write a compare-and-set on
`version` in one UPDATE, so the runner's claim and a person's click are decided by the database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bot.domain import AuditEvent, Job, JobStatus
from bot.lifecycle.model import InstanceLifecycle, LifecyclePhase
from bot.store.audit_log import append_events
from bot.store.database import Database
from bot.store.jobs import _load_jobs
from bot.store.schema import instance_lifecycles, jobs

_FINISHED = [status.value for status in JobStatus if status.finished]
_ACTIVE = [LifecyclePhase.KEEPING.value, LifecyclePhase.DELETING.value]


def _values(record: InstanceLifecycle, version: int) -> dict[str, Any]:
    return {
        "phase": record.phase.value,
        "delete_at": record.delete_at,
        "version": version,
        "state": record.model_dump(mode="json", exclude={"job_id", "phase", "delete_at", "version"}),
        "updated_at": datetime.now(UTC),
    }


def _record(row: sa.RowMapping) -> InstanceLifecycle:
    return InstanceLifecycle.model_validate(
        {
            **row["state"],
            "job_id": row["job_id"],
            "phase": row["phase"],
            "delete_at": row["delete_at"],
            "version": row["version"],
        }
    )


class SqlInstanceLifecycles:
    """The InstanceLifecycles port on SQLAlchemy."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def untracked_jobs(self, limit: int = 100) -> list[Job]:
        """Finished restore jobs (not drills) without a record, oldest first."""
        tracked = sa.select(instance_lifecycles.c.job_id).where(instance_lifecycles.c.job_id == jobs.c.id)
        query = (
            jobs.select()
            .where(jobs.c.status.in_(_FINISHED), jobs.c.is_drill.is_(False), ~tracked.exists())
            .order_by(jobs.c.created_at, jobs.c.id)
            .limit(limit)
        )
        with self._db.transaction(write=False) as conn:
            return _load_jobs(conn, query)

    def add(self, record: InstanceLifecycle, events: Sequence[AuditEvent] = ()) -> bool:
        with self._db.transaction(write=True) as conn:
            exists = conn.execute(
                sa.select(instance_lifecycles.c.job_id).where(instance_lifecycles.c.job_id == record.job_id)
            ).first()
            if exists is not None:
                return False
            try:
                with conn.begin_nested():  # a racing insert of the same job must not spoil the transaction
                    conn.execute(instance_lifecycles.insert().values(job_id=record.job_id, **_values(record, 1)))
            except sa.exc.IntegrityError:
                return False
            append_events(conn, events)
            return True

    def replace(self, record: InstanceLifecycle, events: Sequence[AuditEvent] = ()) -> bool:
        with self._db.transaction(write=True) as conn:
            changed = conn.execute(
                instance_lifecycles.update()
                .where(
                    instance_lifecycles.c.job_id == record.job_id,
                    instance_lifecycles.c.version == record.version,
                )
                .values(**_values(record, record.version + 1))
            )
            if changed.rowcount != 1:
                return False
            append_events(conn, events)
            return True

    def get(self, job_id: str) -> InstanceLifecycle | None:
        with self._db.transaction(write=False) as conn:
            row = conn.execute(instance_lifecycles.select().where(instance_lifecycles.c.job_id == job_id)).mappings()
            found = row.first()
        return _record(found) if found else None

    def active(self) -> list[InstanceLifecycle]:
        query = (
            instance_lifecycles.select()
            .where(instance_lifecycles.c.phase.in_(_ACTIVE))
            .order_by(instance_lifecycles.c.delete_at, instance_lifecycles.c.job_id)
        )
        with self._db.transaction(write=False) as conn:
            return [_record(row) for row in conn.execute(query).mappings()]

    def for_jobs(self, job_ids: Sequence[str]) -> dict[str, InstanceLifecycle]:
        if not job_ids:
            return {}
        query = instance_lifecycles.select().where(instance_lifecycles.c.job_id.in_(list(job_ids)))
        with self._db.transaction(write=False) as conn:
            return {row["job_id"]: _record(row) for row in conn.execute(query).mappings()}
