"""The leader's decision sweep over several marked decisions (bot/decision_notice.py), and the card's decision line
in the cases a live click does not reach: no approver row (a decision saved by an older release), an approval given
with a reason, two approvers."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from bot.decision_notice import DECIDED, DecisionAnnouncer, decided_text
from bot.domain import Approval, ApprovalDecision, Job, JobStatus
from tests.support.factories import make_plan
from tests.unit.test_decisions import ADMIN, OTHER_ADMIN, World, no_email

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class Card:
    """The chat surface the leader announces to; it fails for the jobs named in `broken`."""

    def __init__(self, *broken: str) -> None:
        self.broken = set(broken)
        self.told: list[str] = []

    def request_decided(self, job: Job) -> None:
        if job.id in self.broken:
            raise ConnectionError("Slack unreachable")
        self.told.append(job.id)


def job(status: JobStatus) -> Job:
    return Job(id="j1", requester="U0REQ", plan=make_plan(), status=status, created_at=T0)


def approval(actor: str, decision: ApprovalDecision, reason: str | None = None) -> Approval:
    return Approval(id=1, job_id="j1", actor=actor, decision=decision, reason=reason, at=T0)


def test_a_decision_saved_without_its_approvers_row_shows_only_the_verdict():
    assert str(decided_text(job(JobStatus.QUEUED), [])) == "✅ Approved"
    assert str(decided_text(job(JobStatus.DENIED), [])) == "⛔ Denied"


def test_an_approvals_reason_stays_off_the_card_and_both_approvers_of_a_replace_are_named():
    line = str(decided_text(job(JobStatus.QUEUED), [approval(ADMIN, ApprovalDecision.APPROVED, "looks fine")]))
    assert line.startswith(f"✅ Approved by <@{ADMIN}> <!date^") and "looks fine" not in line
    both = [approval(ADMIN, ApprovalDecision.APPROVED), approval(OTHER_ADMIN, ApprovalDecision.APPROVED)]
    assert str(decided_text(job(JobStatus.QUEUED), both)).startswith(f"✅ Approved by <@{ADMIN}> and <@{OTHER_ADMIN}>")


def test_a_sweep_announces_every_decision_it_saw_marked_before_even_after_a_newer_one() -> None:
    world = World()
    older, newer = world.request(), world.request()
    card = Card()
    leader = DecisionAnnouncer(world.store.jobs, card)
    world.decisions.decide(newer.id, ADMIN, True, no_email)  # the sweep lists marks by decision: `newer` first
    world.decisions.decide(older.id, ADMIN, True, no_email)
    assert leader.sweep() == 0  # both seen for the first time
    assert leader.sweep() == 2 and card.told == [newer.id, older.id]

    third = world.request()
    world.decisions.decide(third.id, ADMIN, False, no_email)
    assert leader.sweep() == 0 and card.told == [newer.id, older.id]


def test_a_sweep_seeing_a_new_mark_first_still_announces_the_one_it_saw_before() -> None:
    world = World()
    first, second = world.request(), world.request()
    card = Card()
    leader = DecisionAnnouncer(world.store.jobs, card)
    world.decisions.decide(second.id, ADMIN, True, no_email)
    assert leader.sweep() == 0
    world.decisions.decide(first.id, ADMIN, True, no_email)  # marked now
    assert world.store.jobs.transition(second.id, JobStatus.QUEUED, JobStatus.RUNNING)  # the engine starts it
    # a marked approval with no finish is listed by its last write: `second` now after `first`
    assert [j.id for j in world.store.jobs.finished_unannounced(DECIDED)] == [first.id, second.id]
    assert leader.sweep() == 1 and card.told == [second.id]


def test_a_decision_chat_cannot_take_is_logged_with_its_job_and_does_not_hold_back_the_others(
    caplog: pytest.LogCaptureFixture,
):
    world = World()
    broken, fine = world.request(), world.request()
    card = Card(broken.id)
    leader = DecisionAnnouncer(world.store.jobs, card)
    for decided in (broken, fine):
        world.decisions.decide(decided.id, ADMIN, True, no_email)
    leader.sweep()
    with caplog.at_level(logging.ERROR, logger="bot.decision_notice"):
        assert leader.sweep() == 1
    assert card.told == [fine.id]
    [record] = caplog.records
    assert record.getMessage() == "decision not announced; asked again next sweep"
    assert record.__dict__["job_id"] == broken.id and record.exc_info is not None
    assert world.store.jobs.by_id[broken.id].engine.finish_unannounced  # asked again next sweep
    card.broken.clear()
    assert leader.sweep() == 1 and card.told == [fine.id, broken.id]
