"""Expiry on the real store, SQLite and PostgreSQL: the sweeper finds what is due, and an expiry racing an
approval for one request leaves exactly one winner, decided by the database's compare-and-set."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import AuditAction, AuditEvent, Job, JobStatus
from bot.expiry import ExpirySweeper
from bot.store import SqlStore
from config.policy_model import parse_policy
from tests.support.factories import BOT_NETWORK, make_plan
from tests.unit.fakes import RecordingNotifier

T0 = datetime(2024, 11, 25, 9, 0, tzinfo=UTC)
POLICY = parse_policy({"backups": {"default_bucket": "rdsbot-backups"}, "network": BOT_NETWORK})


class At:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    with SqlStore(database_url) as opened:
        yield opened


def add(store: SqlStore, job_id: str, created_at: datetime, status: JobStatus = JobStatus.AWAITING_APPROVAL) -> None:
    store.jobs.add_job(Job(id=job_id, requester="U0REQ", plan=make_plan(), status=status, created_at=created_at))


def test_awaiting_approval_lists_only_waiting_requests_made_before_the_cutoff_oldest_first(store: SqlStore) -> None:
    add(store, "jlate", T0 + timedelta(minutes=5))
    add(store, "jearly", T0 - timedelta(hours=3))
    add(store, "jat", T0)  # made at the cutoff: not before it
    add(store, "jqueued", T0 - timedelta(hours=5), JobStatus.QUEUED)
    add(store, "jfresh", T0 + timedelta(hours=2))
    found = store.jobs.awaiting_approval(created_before=T0 + timedelta(minutes=10))
    assert [job.id for job in found] == ["jearly", "jat", "jlate"]
    assert [job.id for job in store.jobs.awaiting_approval(created_before=T0)] == ["jearly"]


def test_the_sweeper_expires_a_due_request_once_with_its_event_in_the_same_transaction(store: SqlStore) -> None:
    add(store, "jdue", T0)
    notifier = RecordingNotifier()
    sweeper = ExpirySweeper(store.jobs, notifier, POLICY, At(T0 + timedelta(minutes=61)))
    assert [job.id for job in sweeper.sweep()] == ["jdue"] and sweeper.sweep() == []
    job = store.jobs.get_job("jdue")
    assert job is not None and job.status == JobStatus.EXPIRED and job.finished_at is not None
    assert [e.action for e in store.audit.audit_events("jdue")] == ["approval.expired"]
    assert len(notifier.messages) == 1


def test_an_expiry_racing_an_approval_has_exactly_one_winner(store: SqlStore) -> None:
    rounds = 12
    sweeper = ExpirySweeper(store.jobs, RecordingNotifier(), POLICY, At(T0 + timedelta(minutes=61)))
    approvals: list[bool] = []
    for n in range(rounds):
        job_id, start = f"jrace{n}", threading.Barrier(2)
        add(store, job_id, T0)  # one waiting request per round, or the first sweep would take them all

        def approve(job_id: str = job_id, start: threading.Barrier = start) -> bool:
            approved = AuditEvent(at=T0, actor="U0ADMIN", action=AuditAction.JOB_APPROVED, job_id=job_id)
            start.wait()
            return store.jobs.transition(job_id, JobStatus.AWAITING_APPROVAL, JobStatus.QUEUED, [approved])

        def sweep(start: threading.Barrier = start) -> list[Job]:
            start.wait()
            return sweeper.sweep()

        with ThreadPoolExecutor(2) as pool:
            approved_future, swept_future = pool.submit(approve), pool.submit(sweep)
            approvals.append(approved_future.result())
            swept_future.result()
        job = store.jobs.get_job(job_id)
        assert job is not None
        actions = [e.action for e in store.audit.audit_events(job_id)]
        if approvals[-1]:
            assert (job.status, actions) == (JobStatus.QUEUED, ["job.approved"])
        else:
            assert (job.status, actions) == (JobStatus.EXPIRED, ["approval.expired"])
