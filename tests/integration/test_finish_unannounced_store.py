"""A finish not yet announced, on a real SQLite file and a real PostgreSQL: the mark is written in the same save as
the finished status, found by the engine's query, cleared without touching the rest of the bookkeeping; the Slack
outbox does not queue a ref twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.chat_outbox import MessageKind, NewMessage, OutboxPayload, SlackMethod
from bot.decision_notice import DECIDED
from bot.domain import ApprovalDecision, AuditEvent, EngineBookkeeping, JobStatus, StageOutputs
from bot.ports import MarkShare
from bot.store import SqlStore
from bot.store.schema import jobs
from bot.workflow import ENGINE_FINISHES
from tests.integration.test_store import T0, make_job


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    with SqlStore(database_url) as opened:
        yield opened


def finished(store: SqlStore, job_id: str, minutes: int, unannounced: bool) -> None:
    job = make_job(job_id, created_at=T0)
    store.jobs.add_job(job)
    job.status, job.finished_at = JobStatus.SUCCEEDED, T0 + timedelta(minutes=minutes)
    job.engine.audit_record_pending = True
    job.engine.finish_unannounced = unannounced
    store.jobs.save_job(job, [AuditEvent(at=T0, actor="rdsbot", action="job.succeeded", job_id=job_id)])


def test_the_mark_is_saved_with_the_finish_and_found_oldest_first_until_cleared(store: SqlStore) -> None:
    finished(store, "j-later", minutes=9, unannounced=True)
    finished(store, "j-told", minutes=1, unannounced=False)
    finished(store, "j-earlier", minutes=5, unannounced=True)
    store.jobs.add_job(make_job("j-running", JobStatus.RUNNING))

    found = store.jobs.finished_unannounced({JobStatus.SUCCEEDED})
    assert [j.id for j in found] == ["j-earlier", "j-later"]
    assert all(j.status == JobStatus.SUCCEEDED and j.engine.finish_unannounced for j in found)
    assert [j.id for j in store.jobs.finished_unannounced({JobStatus.SUCCEEDED}, limit=1)] == ["j-earlier"]

    store.jobs.update_outputs("j-earlier", StageOutputs(), EngineBookkeeping(finish_unannounced=False))
    assert [j.id for j in store.jobs.finished_unannounced({JobStatus.SUCCEEDED})] == ["j-later"]
    cleared = store.jobs.get_job("j-earlier")
    assert cleared is not None and cleared.engine == EngineBookkeeping(audit_record_pending=True)
    with store.database.transaction(write=False) as conn:  # the query reads the column, not the JSON
        row = conn.execute(sa.select(jobs.c.engine_state).where(jobs.c.id == "j-later")).one()
    assert "finish_unannounced" not in row.engine_state


def final(ref: str | None, text: str) -> NewMessage:
    return NewMessage(
        key="job:j1",
        method=SlackMethod.POST,
        kind=MessageKind.FINAL,
        channel="#rds-approvals",
        payload=OutboxPayload(text=text),
        job_id="j1",
        ref=ref,
        thread_ref="card:j1",
    )


def test_a_write_whose_ref_is_queued_is_not_queued_again_even_once_delivered(store: SqlStore) -> None:
    box = store.slack_outbox
    first = box.enqueue(final("finish-final:j1", "done"), T0)
    assert box.enqueue(final("finish-final:j1", "done"), T0) == first
    box.mark_delivered(first, "1.0001", "C0APPROVALS", T0)
    assert box.enqueue(final("finish-final:j1", "done"), T0) == first
    edit = NewMessage(
        key="job:j1",
        method=SlackMethod.UPDATE,
        kind=MessageKind.CARD_UPDATE,
        channel="#rds-approvals",
        payload=OutboxPayload(text="✅ Restored"),
        target_ref="card:j1",
        ref="finish-card:j1",
    )
    card_edit = box.enqueue(edit, T0)
    assert box.claim(card_edit, T0, lease_seconds=30) is not None  # tried: a new edit would not fold into it
    assert box.enqueue(edit, T0) == card_edit
    box.enqueue(final(None, "a write without a ref"), T0)
    box.enqueue(final(None, "a write without a ref"), T0)
    assert box.depth() == 3  # the edit, the two without a ref; the delivered final once


def test_an_expiry_marks_the_job_unannounced_in_its_compare_and_set_only_when_it_wins(store: SqlStore) -> None:
    store.jobs.add_job(make_job("j-waiting", JobStatus.AWAITING_APPROVAL))
    store.jobs.add_job(make_job("j-approved", JobStatus.QUEUED))
    for job_id in ("j-waiting", "j-approved"):
        store.jobs.transition(job_id, JobStatus.AWAITING_APPROVAL, JobStatus.EXPIRED, unannounced=True)
    assert [j.id for j in store.jobs.finished_unannounced({JobStatus.EXPIRED})] == ["j-waiting"]
    assert store.jobs.finished_unannounced({JobStatus.SUCCEEDED, JobStatus.FAILED}) == []  # not the engine's
    approved = store.jobs.get_job("j-approved")
    assert approved is not None and approved.status == JobStatus.QUEUED and not approved.engine.finish_unannounced


def test_a_decision_is_marked_in_its_compare_and_set_and_found_by_the_decision_sweep(store: SqlStore) -> None:
    """bot/decision_notice.py: Approve (queued) and Deny carry the mark in the same UPDATE as the status; a lost
    race marks nothing; the leader's query finds the decided ones (no finish time yet on an approved job)."""
    for job_id in ("j-approved", "j-denied", "j-waiting"):
        store.jobs.add_job(make_job(job_id, JobStatus.AWAITING_APPROVAL))
    waiting = JobStatus.AWAITING_APPROVAL
    assert store.jobs.transition("j-approved", waiting, JobStatus.QUEUED, unannounced=True)
    assert store.jobs.transition("j-denied", waiting, JobStatus.DENIED, unannounced=True)
    assert not store.jobs.transition("j-denied", waiting, JobStatus.QUEUED, unannounced=True)  # lost: no change

    decided = store.jobs.finished_unannounced(DECIDED)
    assert sorted((j.id, j.status) for j in decided) == [
        ("j-approved", JobStatus.QUEUED),
        ("j-denied", JobStatus.DENIED),
    ]
    store.jobs.update_outputs("j-approved", StageOutputs(), EngineBookkeeping(finish_unannounced=False))
    assert [j.id for j in store.jobs.finished_unannounced(DECIDED)] == ["j-denied"]
    left = store.jobs.get_job("j-waiting")
    assert left is not None and not left.engine.finish_unannounced and left.status == waiting


def test_a_withdrawal_is_marked_in_its_compare_and_set_and_found_by_the_decision_sweep_only(store: SqlStore) -> None:
    """bot/decision_notice.py: a withdrawal before approval carries the mark like a decision; the engine's query
    leaves it out (its own cancels share the status and have a request_cancel behind them), the decision sweep's
    finds it; the approval row says who withdrew it."""
    store.jobs.add_job(make_job("j-withdrawn", JobStatus.AWAITING_APPROVAL))
    store.jobs.add_job(make_job("j-stopped", JobStatus.QUEUED))
    assert store.jobs.transition("j-withdrawn", JobStatus.AWAITING_APPROVAL, JobStatus.CANCELLED, unannounced=True)
    assert store.jobs.request_cancel("j-stopped", "U0ALICE")
    assert store.jobs.transition("j-stopped", JobStatus.QUEUED, JobStatus.CANCELLED, unannounced=True)
    store.approvals.add_approval("j-withdrawn", "U0ALICE", ApprovalDecision.WITHDRAWN, None, T0)

    assert [j.id for j in store.jobs.finished_unannounced(ENGINE_FINISHES)] == ["j-stopped"]
    assert [j.id for j in store.jobs.finished_unannounced(DECIDED, withdrawals=True)] == ["j-withdrawn"]
    assert store.jobs.finished_unannounced(DECIDED) == []
    withdrawn = store.jobs.get_job("j-withdrawn")
    assert withdrawn is not None and withdrawn.withdrawn and withdrawn.finished_at is not None
    [row] = store.approvals.approvals("j-withdrawn")
    assert (row.actor, row.decision) == ("U0ALICE", ApprovalDecision.WITHDRAWN)


def test_each_kind_of_mark_has_its_own_limit_so_a_backlog_of_finishes_leaves_room_for_the_decisions(
    store: SqlStore,
) -> None:
    """The engine's one read (Engine.announcers): 151 finishes that chat keeps refusing, finished before the
    decisions were made, take 50 rows, not the read; the approval (no finish yet) and the denial come with them."""
    for job_id in ("j-approved", "j-denied", "j-waiting"):
        store.jobs.add_job(make_job(job_id, JobStatus.AWAITING_APPROVAL))
    store.jobs.transition("j-approved", JobStatus.AWAITING_APPROVAL, JobStatus.QUEUED, unannounced=True)
    for n in range(151):  # the oldest finish is the last added, so age and id order disagree
        finished(store, f"j-finished-{n:03}", minutes=200 - n, unannounced=True)
    store.jobs.transition("j-denied", JobStatus.AWAITING_APPROVAL, JobStatus.DENIED, unannounced=True)
    store.jobs.transition("j-waiting", JobStatus.AWAITING_APPROVAL, JobStatus.EXPIRED, unannounced=True)
    shares = [
        MarkShare(ENGINE_FINISHES),
        MarkShare(DECIDED, withdrawals=True),
        MarkShare(frozenset({JobStatus.EXPIRED})),
    ]

    found = store.jobs.finished_unannounced_shares(shares, limit_each=50)
    assert [j.id for j in found if j.status is not JobStatus.SUCCEEDED] == ["j-approved", "j-denied", "j-waiting"]
    finishes = [j.id for j in found if j.status is JobStatus.SUCCEEDED]
    assert finishes == [f"j-finished-{n:03}" for n in range(150, 100, -1)]  # the 50 oldest, oldest first
    approved = next(j for j in found if j.id == "j-approved")
    assert approved.finished_at is None and approved.status is JobStatus.QUEUED


def test_an_approval_without_a_finish_is_ordered_by_its_decision_on_sqlite_and_postgresql(store: SqlStore) -> None:
    """An approved job has no finished_at, and the bare column put it first on SQLite (NULLs first) but last on
    PostgreSQL (NULLs last): with a backlog the approval was read on one database and starved on the other. The
    oldest mark first, by finish, else by the last write (the decision), on both."""
    for job_id in ("j-a-approved", "j-b-denied", "j-c-approved"):
        store.jobs.add_job(make_job(job_id, JobStatus.AWAITING_APPROVAL))
    waiting = JobStatus.AWAITING_APPROVAL
    store.jobs.transition("j-a-approved", waiting, JobStatus.QUEUED, unannounced=True)
    store.jobs.transition("j-b-denied", waiting, JobStatus.DENIED, unannounced=True)
    store.jobs.transition("j-c-approved", waiting, JobStatus.QUEUED, unannounced=True)

    assert [j.id for j in store.jobs.finished_unannounced(DECIDED)] == ["j-a-approved", "j-b-denied", "j-c-approved"]
    assert [j.id for j in store.jobs.finished_unannounced(DECIDED, limit=1)] == ["j-a-approved"]
