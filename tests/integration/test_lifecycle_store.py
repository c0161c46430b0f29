"""Instance lifecycle records on SQLite and PostgreSQL: which finished jobs still need one, compare-and-set writes
that let one of two racing changes win, and the events recorded only with the change they go with."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import AuditEvent, Job, JobStatus
from bot.lifecycle.model import LifecyclePhase, new_lifecycle
from bot.store import SqlStore
from tests.support.factories import make_plan

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    with SqlStore(database_url) as opened:
        yield opened


def finished(job_id: str, status: JobStatus = JobStatus.SUCCEEDED, is_drill: bool = False, minute: int = 0) -> Job:
    plan = make_plan(f"rdsbot-{job_id}").model_copy(update={"keep_seconds": 120, "final_snapshot": True})
    return Job(
        id=job_id,
        requester="U_ALICE",
        plan=plan,
        status=status,
        created_at=T0 + timedelta(minutes=minute),
        finished_at=T0 + timedelta(minutes=minute + 10),
        is_drill=is_drill,
        created_resources={"instance": f"rdsbot-{job_id}"},
    )


def event(action: str, job_id: str) -> AuditEvent:
    return AuditEvent(at=T0, actor="rdsbot:lifecycle", action=action, job_id=job_id)


def test_finished_restores_without_a_record_are_listed_oldest_first_and_drills_never(store: SqlStore) -> None:
    store.jobs.add_job(finished("jnew", minute=5))
    store.jobs.add_job(finished("jold", status=JobStatus.FAILED, minute=1))
    store.jobs.add_job(finished("jrun", status=JobStatus.RUNNING))
    store.jobs.add_job(finished("jdrill", is_drill=True))

    assert [j.id for j in store.lifecycles.untracked_jobs()] == ["jold", "jnew"]
    assert store.lifecycles.add(new_lifecycle(store.jobs.get_job("jold") or finished("x"), T0))
    assert [j.id for j in store.lifecycles.untracked_jobs()] == ["jnew"]


def test_a_record_round_trips_and_a_second_add_is_refused_without_its_events(store: SqlStore) -> None:
    job = finished("j1")
    store.jobs.add_job(job)
    record = new_lifecycle(job, T0)

    assert store.lifecycles.add(record, [event("instance.reminded", "j1")])
    assert not store.lifecycles.add(record, [event("instance.reminded", "j1")])

    stored = store.lifecycles.get("j1")
    assert stored == record.model_copy(update={"version": 1})
    assert stored is not None and stored.delete_at == T0 + timedelta(minutes=12)
    assert [e.action for e in store.audit.audit_events("j1")] == ["instance.reminded"]


def test_of_two_changes_from_the_same_version_only_the_first_lands_with_its_event(store: SqlStore) -> None:
    job = finished("j1")
    store.jobs.add_job(job)
    store.lifecycles.add(new_lifecycle(job, T0))
    read = store.lifecycles.get("j1")
    assert read is not None

    claim = read.model_copy(update={"phase": LifecyclePhase.DELETING, "final_snapshot_id": "rdsbot-final-j1"})
    later = read.model_copy(update={"delete_at": T0 + timedelta(days=1), "extensions": 1})
    assert store.lifecycles.replace(claim, [event("instance.delete_started", "j1")])
    assert not store.lifecycles.replace(later, [event("instance.keep_extended", "j1")])

    stored = store.lifecycles.get("j1")
    assert stored is not None and stored.phase == LifecyclePhase.DELETING and stored.version == 2
    assert stored.extensions == 0 and stored.final_snapshot_id == "rdsbot-final-j1"
    assert [e.action for e in store.audit.audit_events("j1")] == ["instance.delete_started"]


def test_active_lists_keeping_and_deleting_soonest_first_and_for_jobs_reads_several(store: SqlStore) -> None:
    for job_id, minute in (("jlate", 9), ("jsoon", 1), ("jdone", 0)):
        job = finished(job_id, minute=minute)
        store.jobs.add_job(job)
        store.lifecycles.add(new_lifecycle(job, T0))
    done = store.lifecycles.get("jdone")
    assert done is not None
    store.lifecycles.replace(done.model_copy(update={"phase": LifecyclePhase.DELETED}))

    assert [r.job_id for r in store.lifecycles.active()] == ["jsoon", "jlate"]
    assert sorted(store.lifecycles.for_jobs(["jdone", "jsoon", "jmissing"])) == ["jdone", "jsoon"]
    assert store.lifecycles.for_jobs([]) == {}
