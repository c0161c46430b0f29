"""Decisions in the job store, on a real SQLite file and a real PostgreSQL: a status changes only from the one
expected (the database decides a race of clicks), and a decision is written with its approver's row or not at all."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, timedelta

import pytest

from bot.domain import ApprovalDecision, JobStatus
from bot.store import SqlStore, UnknownJobError
from tests.integration.test_store import T0, event, make_job, trail


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    with SqlStore(database_url) as opened:
        yield opened


def test_transition_changes_the_status_only_from_an_expected_one(store: SqlStore) -> None:
    store.jobs.add_job(make_job("job-1", status=JobStatus.AWAITING_APPROVAL))

    assert not store.jobs.transition("job-1", JobStatus.QUEUED, JobStatus.RUNNING, [event("job.started", "job-1")])
    assert not store.jobs.transition("ghost", JobStatus.QUEUED, JobStatus.RUNNING)
    assert store.jobs.transition(
        "job-1", {JobStatus.AWAITING_APPROVAL}, JobStatus.QUEUED, [event("job.approved", "job-1")]
    )
    assert store.jobs.transition("job-1", {JobStatus.QUEUED, JobStatus.RUNNING}, JobStatus.RUNNING)
    assert store.jobs.transition("job-1", JobStatus.RUNNING, JobStatus.CANCELLED, [event("job.cancelled", "job-1")])

    job = store.jobs.get_job("job-1")
    assert job is not None and job.status is JobStatus.CANCELLED
    assert job.started_at is not None and job.finished_at is not None
    assert job.started_at.tzinfo is UTC and job.started_at <= job.finished_at
    assert trail(store) == [("job.approved", "job-1"), ("job.cancelled", "job-1")]


def test_two_approvers_clicking_at_once_start_exactly_one_execution(store: SqlStore) -> None:
    clickers = 8
    for round_ in range(5):
        job_id = f"job-{round_}"
        store.jobs.add_job(make_job(job_id, status=JobStatus.AWAITING_APPROVAL))
        start = threading.Barrier(clickers)

        def approve(actor: str, job_id: str = job_id, start: threading.Barrier = start) -> bool:
            # As Decisions.decide writes a click: the status, its mark, the approver's row and the event at once.
            start.wait()
            approved = event("job.approved", job_id, actor=actor)
            row = store.approvals.decide(
                job_id, JobStatus.QUEUED, actor, ApprovalDecision.APPROVED, None, T0, [approved]
            )
            return row is not None

        with ThreadPoolExecutor(clickers) as pool:
            won = list(pool.map(approve, [f"U_APPROVER_{n}" for n in range(clickers)]))

        assert won.count(True) == 1
        winner = f"U_APPROVER_{won.index(True)}"
        assert [(e.action, e.actor) for e in store.audit.audit_events(job_id)] == [("job.approved", winner)]
        assert [a.actor for a in store.approvals.approvals(job_id)] == [winner]  # the losers left no row
        job = store.jobs.get_job(job_id)
        assert job is not None and job.status is JobStatus.QUEUED


def test_approvals_are_kept_per_job_in_the_order_they_were_given(store: SqlStore) -> None:
    store.jobs.add_job(make_job("job-1", status=JobStatus.AWAITING_APPROVAL))
    store.jobs.add_job(make_job("job-2", status=JobStatus.AWAITING_APPROVAL))

    first = store.approvals.add_approval("job-1", "U_BOB", ApprovalDecision.APPROVED, "looks right", T0)
    store.approvals.add_approval("job-2", "U_BOB", ApprovalDecision.DENIED, "wrong region", T0)
    second = store.approvals.add_approval(
        "job-1", "U_CAROL", ApprovalDecision.APPROVED, None, T0 + timedelta(seconds=30)
    )

    assert store.approvals.approvals("job-1") == [first, second]
    assert [(a.actor, a.decision) for a in store.approvals.approvals("job-2")] == [("U_BOB", ApprovalDecision.DENIED)]
    assert store.approvals.approvals("job-3") == []
    with pytest.raises(UnknownJobError):
        store.approvals.add_approval("job-3", "U_BOB", ApprovalDecision.APPROVED, None, T0)


def test_a_decision_is_written_with_its_approvers_row_and_mark_or_not_at_all(store: SqlStore) -> None:
    # One transaction: a reader (the leader's decision sweep) never finds the decided status without the row.
    store.jobs.add_job(make_job("job-1", status=JobStatus.AWAITING_APPROVAL))
    denied = event("job.denied", "job-1", actor="U_BOB", reason="freeze")

    row = store.approvals.decide("job-1", JobStatus.DENIED, "U_BOB", ApprovalDecision.DENIED, "freeze", T0, [denied])

    assert row is not None and store.approvals.approvals("job-1") == [row]
    job = store.jobs.get_job("job-1")
    assert job is not None and job.status is JobStatus.DENIED and job.engine.finish_unannounced
    assert job.finished_at is not None and trail(store) == [("job.denied", "job-1")]
    # A second click finds the job decided: nothing is written, not its row, not its event.
    late, approved = event("job.approved", "job-1", actor="U_CAROL"), ApprovalDecision.APPROVED
    assert store.approvals.decide("job-1", JobStatus.QUEUED, "U_CAROL", approved, None, T0, [late]) is None
    assert store.approvals.approvals("job-1") == [row] and trail(store) == [("job.denied", "job-1")]
    assert store.approvals.decide("ghost", JobStatus.QUEUED, "U_BOB", approved, None, T0) is None
