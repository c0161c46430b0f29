"""Job chat threads on a real SQLite file and a real PostgreSQL, and the 0005 split of old outputs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from bot.domain import EngineBookkeeping, Job, StageOutputs
from bot.errors import UnknownJobError
from bot.ports import ThreadRef
from bot.store import SqlStore
from bot.store.database import alembic_config
from tests.integration.store_fixtures import seed_at_revision
from tests.support.factories import make_plan

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    with SqlStore(database_url) as opened:
        yield opened


def add_job(store: SqlStore, job_id: str) -> None:
    store.jobs.add_job(Job(id=job_id, requester="U0ALICE", plan=make_plan(), created_at=T0))


def test_a_job_thread_is_found_by_job_and_surface_only(store: SqlStore) -> None:
    threads = store.chat_threads
    add_job(store, "j1")
    add_job(store, "j2")
    threads.save("j1", "slack", "C0APPROVALS", "1700000000.000100")

    assert threads.find("j1", "slack") == ThreadRef(
        surface="slack", channel="C0APPROVALS", thread_ts="1700000000.000100"
    )
    assert threads.find("j2", "slack") is None
    assert threads.find("j1", "teams") is None


def test_saving_again_moves_the_thread_and_an_unknown_job_is_refused(store: SqlStore) -> None:
    threads = store.chat_threads
    add_job(store, "j1")
    threads.save("j1", "slack", "C1", "1.1")
    threads.save("j1", "slack", "C2", "2.2")

    assert threads.find("j1", "slack") == ThreadRef(surface="slack", channel="C2", thread_ts="2.2")
    with pytest.raises(UnknownJobError):
        threads.save("no-such-job", "slack", "C1", "1.1")


def test_the_job_row_no_longer_carries_its_thread(store: SqlStore) -> None:
    add_job(store, "j1")
    store.chat_threads.save("j1", "slack", "C1", "1.1")
    job = store.jobs.get_job("j1")
    assert job is not None and job.outputs == StageOutputs() and job.engine == EngineBookkeeping()


def _old_row(job_id: str, outputs: dict[str, Any]) -> dict[str, Any]:
    """A jobs row as revision 0004 holds it."""
    return {
        "id": job_id,
        "requester": "U0ALICE",
        "status": "running",
        "is_drill": False,
        "plan": make_plan().model_dump(mode="json"),
        "outputs": outputs,
        "created_resources": {},
        "error": None,
        "percent_complete": 0,
        "cancel_requested_by": None,
        "created_at": T0,
        "started_at": None,
        "finished_at": None,
        "updated_at": T0,
    }


MIXED = {
    "backup_files": 2,
    "backup_bytes": 4096,
    "notes": [],
    "task_id": 7,
    "endpoint": "restore-sales.example:1433",
    "audit_record_key": "audit/rdsbot/jobs/j-mixed.jsonl",
    "transient_failures": 3,
    "cancel_sent": True,
    "audit_record_pending": False,
    "slack_channel": "C0APPROVALS",
    "slack_ts": "1700000000.000100",
}


def test_upgrading_to_0005_splits_old_outputs_and_a_downgrade_folds_them_back(database_url: str) -> None:
    seed_at_revision(database_url, "0004", {"jobs": [_old_row("j-mixed", MIXED), _old_row("j-plain", {"task_id": 9})]})

    with SqlStore(database_url) as store:
        mixed, plain = store.jobs.get_job("j-mixed"), store.jobs.get_job("j-plain")
        assert mixed is not None and plain is not None
        assert mixed.outputs == StageOutputs(
            backup_files=2,
            backup_bytes=4096,
            notes=(),
            task_id=7,
            endpoint="restore-sales.example:1433",
            audit_record_key="audit/rdsbot/jobs/j-mixed.jsonl",
        )
        assert mixed.engine == EngineBookkeeping(transient_failures=3, cancel_sent=True, audit_record_pending=False)
        assert (plain.outputs, plain.engine) == (StageOutputs(task_id=9), EngineBookkeeping())
        threads = store.chat_threads
        assert threads.find("j-mixed", "slack") == ThreadRef(
            surface="slack", channel="C0APPROVALS", thread_ts="1700000000.000100"
        )
        assert threads.find("j-plain", "slack") is None

        with store.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0004")
            old = sa.table("jobs", sa.column("id", sa.String), sa.column("outputs", sa.JSON))
            folded: dict[str, Any] = {row.id: row.outputs for row in conn.execute(sa.select(old))}
    # Bookkeeping at its default (audit_record_pending False) is left out: the old code read a missing key so.
    assert folded == {
        "j-mixed": {k: v for k, v in MIXED.items() if k != "audit_record_pending"},
        "j-plain": {"task_id": 9},
    }
