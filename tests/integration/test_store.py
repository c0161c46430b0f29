"""The job store against a real SQLite file and a real PostgreSQL: every story runs on both."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from bot.domain import (
    STAGE_ORDER,
    AuditEvent,
    EngineBookkeeping,
    Job,
    JobStatus,
    StageName,
    StageOutputs,
    StageStatus,
)
from bot.store import DuplicateJobError, SqlStore, UnknownJobError
from tests.support.factories import make_plan

T0 = datetime(2024, 11, 25, 9, 0, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    with SqlStore(database_url) as opened:
        yield opened


def make_job(
    job_id: str, status: JobStatus = JobStatus.QUEUED, created_at: datetime = T0, is_drill: bool = False
) -> Job:
    return Job(
        id=job_id, requester="U_ALICE", plan=make_plan(), status=status, created_at=created_at, is_drill=is_drill
    )


def event(action: str, job_id: str | None, at: datetime = T0, actor: str = "U_ALICE", **detail: Any) -> AuditEvent:
    return AuditEvent(at=at, actor=actor, action=action, job_id=job_id, detail=detail)


def trail(store: SqlStore, job_id: str | None = None) -> list[tuple[str, str | None]]:
    return [(e.action, e.job_id) for e in store.audit.audit_events(job_id)]


def test_a_job_round_trips_with_its_stages_and_timezone_aware_timestamps(store: SqlStore) -> None:
    job = make_job("job-1", status=JobStatus.RUNNING, is_drill=True)
    job.started_at = datetime(2024, 11, 25, 11, 1, tzinfo=CEST)  # given in another zone, read back as UTC
    job.stage(StageName.VALIDATE).status = StageStatus.SUCCEEDED
    job.stage(StageName.VALIDATE).started_at = T0 + timedelta(minutes=1)
    job.stage(StageName.VALIDATE).finished_at = T0 + timedelta(minutes=1, seconds=2, microseconds=345)
    job.stage(StageName.VALIDATE).detail = "backup is 12.3 GiB"
    job.stage(StageName.NETWORK).status = StageStatus.RUNNING
    job.outputs = StageOutputs(role_arn="arn:aws:iam::123456789012:role/rdsbot-restore", task_id=7, notes=("old",))
    job.engine.transient_failures = 3
    job.created_resources = {"instance": "restore-sales"}
    job.percent_complete = 12

    store.jobs.add_job(job)
    loaded = store.jobs.get_job("job-1")

    assert loaded == job
    assert loaded is not None and [s.name for s in loaded.stages] == [s.name for s in job.stages]
    stamps = [loaded.created_at, loaded.started_at, *(s.started_at for s in loaded.stages if s.started_at)]
    assert stamps and all(stamp is not None and stamp.tzinfo is UTC for stamp in stamps)
    assert loaded.started_at == datetime(2024, 11, 25, 9, 1, tzinfo=UTC)
    assert loaded.stage(StageName.VALIDATE).seconds == pytest.approx(2.000345)
    assert store.jobs.get_job("no-such-job") is None


def test_a_naive_timestamp_is_refused_rather_than_guessed(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        store.jobs.add_job(make_job("job-1", created_at=datetime(2024, 11, 25, 9, 0)))

    assert store.jobs.get_job("job-1") is None


def test_save_job_writes_the_job_its_stages_and_its_events_together(store: SqlStore) -> None:
    job = make_job("job-1")
    store.jobs.add_job(job, [event("job.requested", "job-1")])

    job.status = JobStatus.FAILED
    job.finished_at = T0 + timedelta(hours=1)
    job.error = "rds_restore_database ended in ERROR: the backup set is corrupt"
    job.stage(StageName.RESTORE_WAIT).status = StageStatus.FAILED
    job.stage(StageName.RESTORE_WAIT).error = "the backup set is corrupt"
    store.jobs.save_job(job, [event("job.failed", "job-1", reason="corrupt")])

    assert store.jobs.get_job("job-1") == job
    assert trail(store, "job-1") == [("job.requested", "job-1"), ("job.failed", "job-1")]


def test_a_failure_midway_through_save_job_writes_nothing(store: SqlStore) -> None:
    job = make_job("job-1")
    store.jobs.add_job(job, [event("job.requested", "job-1")])
    changed = job.model_copy(deep=True)
    changed.status = JobStatus.RUNNING
    changed.stage(StageName.VALIDATE).status = StageStatus.SUCCEEDED

    def fail_on_audit_insert(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # By now the job UPDATE and the stage rewrite have run inside the transaction.
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_EVENTS"):
            raise RuntimeError("disk full")

    sa.event.listen(store.engine, "before_cursor_execute", fail_on_audit_insert)
    try:
        with pytest.raises(RuntimeError, match="disk full"):
            store.jobs.save_job(changed, [event("job.started", "job-1")])
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", fail_on_audit_insert)

    assert store.jobs.get_job("job-1") == job
    assert trail(store) == [("job.requested", "job-1")]


def test_saving_or_adding_the_wrong_job_is_refused_and_writes_nothing(store: SqlStore) -> None:
    store.jobs.add_job(make_job("job-1"))

    with pytest.raises(UnknownJobError, match="job ghost does not exist"):
        store.jobs.save_job(make_job("ghost"), [event("job.started", "ghost")])
    with pytest.raises(DuplicateJobError, match="job job-1 already exists"):
        store.jobs.add_job(make_job("job-1", status=JobStatus.FAILED), [event("job.requested", "job-1")])

    assert store.jobs.get_job("ghost") is None
    assert store.jobs.get_job("job-1") == make_job("job-1")
    assert trail(store) == []


def test_unfinished_jobs_are_the_queued_and_running_ones_oldest_first(store: SqlStore) -> None:
    ages = {
        "running-new": (JobStatus.RUNNING, 30),
        "done": (JobStatus.SUCCEEDED, 0),
        "queued-old": (JobStatus.QUEUED, 5),
        "waiting": (JobStatus.AWAITING_APPROVAL, 1),
        "running-old": (JobStatus.RUNNING, 10),
        "failed": (JobStatus.FAILED, 2),
        "queued-new": (JobStatus.QUEUED, 20),
    }
    for job_id, (status, minute) in ages.items():
        store.jobs.add_job(make_job(job_id, status=status, created_at=T0 + timedelta(minutes=minute)))

    unfinished = store.jobs.unfinished_jobs()

    assert [j.id for j in unfinished] == ["queued-old", "running-old", "queued-new", "running-new"]
    assert all(len(j.stages) == len(STAGE_ORDER) for j in unfinished)


def test_list_jobs_is_newest_first_and_filters_by_status_and_drill(store: SqlStore) -> None:
    for minute in range(6):
        status = JobStatus.SUCCEEDED if minute % 2 else JobStatus.FAILED
        store.jobs.add_job(make_job(f"job-{minute}", status, T0 + timedelta(minutes=minute), is_drill=minute >= 4))

    assert [j.id for j in store.jobs.list_jobs()] == ["job-5", "job-4", "job-3", "job-2", "job-1", "job-0"]
    assert [j.id for j in store.jobs.list_jobs(limit=2)] == ["job-5", "job-4"]
    assert [j.id for j in store.jobs.list_jobs({JobStatus.FAILED})] == ["job-4", "job-2", "job-0"]
    assert [j.id for j in store.jobs.list_jobs(is_drill=True)] == ["job-5", "job-4"]
    assert [j.id for j in store.jobs.list_jobs({JobStatus.SUCCEEDED}, is_drill=False)] == ["job-3", "job-1"]
    assert store.jobs.list_jobs({JobStatus.RUNNING}) == []


def test_audit_events_come_back_in_insertion_order(store: SqlStore) -> None:
    store.jobs.add_job(make_job("job-1"))
    # Clocks of different hosts disagree: the order is the order of writing, not of `at`.
    store.audit.record_audit([event("job.requested", "job-1", at=T0 + timedelta(minutes=5))])
    store.audit.record_audit(
        [event("request.refused", None, at=T0 + timedelta(minutes=1), actor="U_EVE", field="region")]
    )
    store.jobs.transition("job-1", JobStatus.QUEUED, JobStatus.RUNNING, [event("job.started", "job-1", at=T0)])
    store.audit.record_audit(
        [
            event("stage.succeeded", "job-1", at=T0 + timedelta(minutes=9), stage="validate"),
            event("approval.ignored", "job-1"),
        ]
    )

    everything = store.audit.audit_events()

    actions = ["job.requested", "request.refused", "job.started", "stage.succeeded", "approval.ignored"]
    assert [e.action for e in everything] == actions
    assert [e.id for e in everything] == sorted(e.id for e in everything if e.id is not None)
    assert everything[1].detail == {"field": "region"} and everything[1].at.tzinfo is UTC
    assert [e.action for e in store.audit.audit_events("job-1")] == [
        "job.requested",
        "job.started",
        "stage.succeeded",
        "approval.ignored",
    ]
    assert [e.action for e in store.audit.audit_events(since=T0 + timedelta(minutes=5))] == [
        "job.requested",
        "stage.succeeded",
    ]
    assert [e.action for e in store.audit.audit_events("job-1", since=T0 + timedelta(minutes=6))] == ["stage.succeeded"]


def test_many_threads_can_write_the_same_database_at_once(store: SqlStore) -> None:
    def submit_and_run(worker: int) -> None:
        for n in range(5):
            job = make_job(f"job-{worker}-{n}", created_at=T0 + timedelta(seconds=worker * 10 + n))
            store.jobs.add_job(job, [event("job.requested", job.id)])
            job.status = JobStatus.RUNNING
            store.jobs.save_job(job, [event("job.started", job.id)])
            assert store.jobs.transition(job.id, JobStatus.RUNNING, JobStatus.SUCCEEDED)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(submit_and_run, range(8)))

    assert len(store.jobs.list_jobs({JobStatus.SUCCEEDED}, limit=100)) == 40
    assert len(store.audit.audit_events()) == 80
    if store.engine.dialect.name == "sqlite":
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_update_outputs_merges_without_undoing_a_decision(store: SqlStore) -> None:
    job = make_job("job-outputs")
    job.outputs.endpoint = "restore-sales.example:1433"
    job.engine.cancel_sent = True
    store.jobs.add_job(job)
    assert store.jobs.transition(job.id, job.status, JobStatus.DENIED)
    links = StageOutputs(audit_record_key="audit/rdsbot/jobs/job-outputs.jsonl", audit_record_url="https://presigned")
    store.jobs.update_outputs(job.id, links, EngineBookkeeping(audit_record_pending=True))
    stored = store.jobs.get_job(job.id)
    assert stored is not None and stored.status == JobStatus.DENIED
    assert stored.outputs == StageOutputs(
        endpoint="restore-sales.example:1433", audit_record_key="audit/rdsbot/jobs/job-outputs.jsonl"
    )  # the presigned link, a credential, is never stored
    assert stored.engine == EngineBookkeeping(cancel_sent=True, audit_record_pending=True)

    store.jobs.update_outputs(job.id, StageOutputs(), EngineBookkeeping(audit_record_pending=False))
    cleared = store.jobs.get_job(job.id)
    assert cleared is not None and cleared.engine == EngineBookkeeping(cancel_sent=True)
    assert cleared.outputs == stored.outputs
    with pytest.raises(UnknownJobError):
        store.jobs.update_outputs("no-such-job", links)


def test_a_cancel_request_survives_the_engine_saving_its_older_copy(store: SqlStore) -> None:
    job = make_job("job-cancel", status=JobStatus.RUNNING)
    store.jobs.add_job(job)
    assert store.jobs.request_cancel(job.id, "U_BOB")
    store.jobs.save_job(job)  # the engine's copy, loaded before the request
    stored = store.jobs.get_job(job.id)
    assert stored is not None and stored.cancel_requested_by == "U_BOB"
    assert not store.jobs.request_cancel(job.id, "U_CAROL")  # asked once is enough
    assert store.jobs.transition(job.id, JobStatus.RUNNING, JobStatus.CANCELLED)
    assert not store.jobs.request_cancel(job.id, "U_BOB")  # a finished job has nothing to cancel
