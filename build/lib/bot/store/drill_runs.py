"""Drill runs beside the jobs: one row per run, its details as JSON, saved after every step."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.drills.runs import DrillPhase, DrillRun
from bot.store.database import Database
from bot.store.schema import drill_runs

_STATE_EXCLUDE = {"id", "drill_name", "phase", "outcome", "job_id", "created_at", "finished_at"}


def _lock_key(drill_name: str) -> int:
    # A signed 63-bit key per drill name, for pg_advisory_xact_lock.
    return int.from_bytes(hashlib.sha256(f"rdsbot-drill:{drill_name}".encode()).digest()[:8], "big") >> 1


def _values(run: DrillRun) -> dict[str, Any]:
    return {
        "drill_name": run.drill_name,
        "phase": run.phase.value,
        "outcome": run.outcome.value if run.outcome else None,
        "job_id": run.job_id,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "updated_at": datetime.now(UTC),
        "state": run.model_dump(mode="json", exclude=_STATE_EXCLUDE),
    }


def _run(row: sa.RowMapping) -> DrillRun:
    return DrillRun.model_validate(
        {
            **row["state"],
            "id": row["id"],
            "drill_name": row["drill_name"],
            "phase": row["phase"],
            "outcome": row["outcome"],
            "job_id": row["job_id"],
            "created_at": row["created_at"],
            "finished_at": row["finished_at"],
        }
    )


class SqlDrillRuns:
    """The DrillRunRepository port on SQLAlchemy."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def claim(self, run: DrillRun) -> DrillRun | None:
        """Store `run` unless the drill already has an unfinished run; then return that run instead."""
        with self._db.transaction(write=True) as conn:
            if conn.dialect.name == "postgresql":
                # Two replicas starting the same drill at once: the second waits here, then sees the first's row.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(run.drill_name)})
            busy = self._select(
                conn,
                drill_runs.select().where(
                    drill_runs.c.drill_name == run.drill_name, drill_runs.c.phase != DrillPhase.DONE.value
                ),
            )
            if busy:
                return busy[0]
            conn.execute(drill_runs.insert().values(id=run.id, **_values(run)))
        return None

    def save(self, run: DrillRun) -> None:
        with self._db.transaction(write=True) as conn:
            conn.execute(drill_runs.update().where(drill_runs.c.id == run.id).values(**_values(run)))

    def get(self, run_id: str) -> DrillRun | None:
        with self._db.transaction(write=False) as conn:
            found = self._select(conn, drill_runs.select().where(drill_runs.c.id == run_id))
        return found[0] if found else None

    def unfinished(self) -> list[DrillRun]:
        """Runs not yet DONE, oldest first: what a restarted runner resumes."""
        query = drill_runs.select().where(drill_runs.c.phase != DrillPhase.DONE.value).order_by(drill_runs.c.created_at)
        with self._db.transaction(write=False) as conn:
            return self._select(conn, query)

    def history(self, drill_name: str | None = None, limit: int = 10) -> list[DrillRun]:
        """The newest runs first, of one drill or of all."""
        query = drill_runs.select().order_by(drill_runs.c.created_at.desc(), drill_runs.c.id.desc()).limit(limit)
        if drill_name is not None:
            query = query.where(drill_runs.c.drill_name == drill_name)
        with self._db.transaction(write=False) as conn:
            return self._select(conn, query)

    def by_job(self, job_id: str) -> DrillRun | None:
        with self._db.transaction(write=False) as conn:
            found = self._select(conn, drill_runs.select().where(drill_runs.c.job_id == job_id))
        return found[0] if found else None

    @staticmethod
    def _select(conn: Connection, query: sa.Select[Any]) -> list[DrillRun]:
        return [_run(row) for row in conn.execute(query).mappings().all()]
