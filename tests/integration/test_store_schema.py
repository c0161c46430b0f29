"""The job store's schema on a real SQLite file and a real PostgreSQL: every start runs the migrations (no-ops on a
current database), an old database is upgraded with its data, and the migrations build what the store queries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.domain import STAGE_ORDER, Approval, ApprovalDecision, EngineBookkeeping, JobStatus, StageOutputs
from bot.store import SqlStore
from bot.store.database import alembic_config
from bot.store.schema import metadata
from tests.integration.test_store import T0, event, make_job, trail
from tests.support.factories import make_plan


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    with SqlStore(database_url) as opened:
        yield opened


def test_reopening_the_store_on_an_existing_database_keeps_the_jobs(database_url: str) -> None:
    with SqlStore(database_url) as first:
        first.jobs.add_job(make_job("job-1"), [event("job.requested", "job-1")])
        first.approvals.add_approval("job-1", "U_BOB", ApprovalDecision.APPROVED, None, T0)

    # Twice more, one while another is open: every start runs the migrations, and they must be no-ops.
    with SqlStore(database_url) as second, SqlStore(database_url) as third:
        assert second.jobs.get_job("job-1") == make_job("job-1")
        assert third.jobs.get_job("job-1") == make_job("job-1")
        assert trail(second) == [("job.requested", "job-1")]
        assert len(third.approvals.approvals("job-1")) == 1
        assert current_revision(second) == head_revision(second)


def test_an_upgrade_from_revision_0001_with_data_in_it_keeps_the_data(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0001")
        # Rows written the way the 0001 schema takes them, without the store's help.
        tables = sa.MetaData()
        tables.reflect(engine)
        with engine.begin() as conn:
            conn.execute(
                tables.tables["jobs"].insert(),
                {
                    "id": "job-old",
                    "requester": "U_ALICE",
                    "status": "running",
                    "is_drill": False,
                    "plan": make_plan().model_dump(mode="json"),
                    "outputs": {"task_id": 7},
                    "created_resources": {"instance": "restore-sales"},
                    "error": None,
                    "percent_complete": 40,
                    "created_at": T0,
                    "started_at": T0 + timedelta(minutes=1),
                    "finished_at": None,
                    "updated_at": T0 + timedelta(minutes=2),
                },
            )
            conn.execute(
                tables.tables["stages"].insert(),
                [
                    {"job_id": "job-old", "position": i, "name": name.value, "status": "pending", "detail": ""}
                    for i, name in enumerate(STAGE_ORDER)
                ],
            )
            conn.execute(
                tables.tables["approvals"].insert(),
                {"job_id": "job-old", "actor": "U_BOB", "decision": "approved", "reason": "ok", "at": T0},
            )
            conn.execute(
                tables.tables["audit_events"].insert(),
                {"at": T0, "actor": "U_ALICE", "action": "job.requested", "job_id": "job-old", "detail": {}},
            )
    finally:
        engine.dispose()

    with SqlStore(database_url) as store:
        assert current_revision(store) == head_revision(store)
        job = store.jobs.get_job("job-old")
        assert job is not None
        assert (job.status, job.percent_complete, job.outputs) == (JobStatus.RUNNING, 40, StageOutputs(task_id=7))
        assert job.engine == EngineBookkeeping()
        assert job.plan == make_plan() and job.created_at == T0 and job.created_at.tzinfo is UTC
        assert [s.name for s in job.stages] == list(STAGE_ORDER)
        assert [j.id for j in store.jobs.unfinished_jobs()] == ["job-old"]
        assert store.approvals.approvals("job-old") == [
            Approval(id=1, job_id="job-old", actor="U_BOB", decision=ApprovalDecision.APPROVED, reason="ok", at=T0)
        ]
        assert trail(store) == [("job.requested", "job-old")]


def test_the_migrations_build_exactly_the_schema_the_store_queries(store: SqlStore) -> None:
    with store.engine.connect() as conn:
        drift = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)

    assert drift == []


def current_revision(store: SqlStore) -> tuple[str, ...]:
    # Sets of heads: features land as sibling revisions (0002 audit, 0002d drills) and the store upgrades to all.
    with store.engine.connect() as conn:
        return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))


def head_revision(store: SqlStore) -> tuple[str, ...]:
    with store.engine.connect() as conn:
        return tuple(sorted(ScriptDirectory.from_config(alembic_config(conn)).get_heads()))
