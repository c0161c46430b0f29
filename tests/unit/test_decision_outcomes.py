"""Every outcome of approve, deny and cancel pinned whole: the outcome, the words the clicker reads, the job handed
back, and the one audit event with its exact detail. What an auditor later reads is part of the rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.approvals import Decision, Outcome
from bot.domain import ApprovalDecision, AuditEvent, JobStatus
from bot.ports import Identity
from tests.unit.test_decisions import ADMIN, ADMINS, REQUESTER, STRANGER, FakeDirectory, World, no_email

ADMIN_REQUESTER = "U0REQADMIN"


def only_event(world: World) -> AuditEvent:
    [event] = world.store.events
    return event


def pinned(event: AuditEvent) -> tuple[Any, ...]:
    return (str(event.action), event.actor, event.job_id, event.iam_user, event.detail)


def job_of(decision: Decision) -> tuple[str, JobStatus] | None:
    return (decision.job.id, decision.job.status) if decision.job else None


@pytest.fixture
def world() -> World:
    return World()


def test_a_click_on_an_unknown_job(world: World) -> None:
    decision = world.decisions.decide("j-nope", ADMIN, True, no_email)
    assert (decision.outcome, decision.message, decision.job) == (Outcome.UNKNOWN_JOB, "no restore job j-nope", None)
    assert pinned(only_event(world)) == ("approval.unknown_job", ADMIN, None, None, {"job_id": "j-nope"})


def test_a_click_on_a_decided_job(world: World) -> None:
    job = world.request(status=JobStatus.QUEUED)
    decision = world.decisions.decide(job.id, ADMIN, False, no_email)
    assert decision.message == f"job {job.id} is already queued; nothing changed"
    assert (decision.outcome, job_of(decision)) == (Outcome.ALREADY_DECIDED, (job.id, JobStatus.QUEUED))
    detail = {"action": "deny", "status": "queued"}
    assert pinned(only_event(world)) == ("approval.ignored", ADMIN, job.id, None, detail)


def test_a_click_after_expiry(world: World) -> None:
    job = world.request()  # created 09:00 UTC; expires 60 minutes later
    world.clock.current = world.clock.current.replace(hour=10, second=1)
    decision = world.decisions.decide(job.id, ADMIN, True, no_email)
    expired = (Outcome.EXPIRED, f"the request {job.id} expired at 2026-11-25 10:00 UTC")  # with its date (issue 13)
    assert (decision.outcome, decision.message) == expired
    assert job_of(decision) == (job.id, JobStatus.EXPIRED)  # the job as it is now: the card and notice show it
    assert pinned(only_event(world)) == ("approval.expired", ADMIN, job.id, None, {"action": "approve"})


def test_a_refused_click_records_who_was_refused_and_why(world: World) -> None:
    job = world.request(requester=ADMIN_REQUESTER)
    decision = world.decisions.decide(job.id, ADMIN_REQUESTER, True, no_email)
    reason = "you requested this restore; another admin must approve it (two-person rule)"
    assert (decision.outcome, decision.message, job_of(decision)) == (
        Outcome.REFUSED, reason, (job.id, JobStatus.AWAITING_APPROVAL)
    )  # fmt: skip
    detail = {"action": "approve", "reason": reason, "iam_user": "reqadmin", "identity_source": "fake"}
    assert pinned(only_event(world)) == ("approval.refused", ADMIN_REQUESTER, job.id, "reqadmin", detail)


@pytest.mark.parametrize(
    ("approve", "status", "verb", "recorded"),
    [(True, JobStatus.QUEUED, "approved", ApprovalDecision.APPROVED),
     (False, JobStatus.DENIED, "denied", ApprovalDecision.DENIED)],
)  # fmt: skip
def test_an_admins_decision_is_applied_recorded_and_audited(world: World, approve, status, verb, recorded) -> None:
    job = world.request()
    decision = world.decisions.decide(job.id, ADMIN, approve, no_email, reason="checked")
    assert (decision.outcome, decision.message) == (Outcome(verb), f"{verb} by <@{ADMIN}>")
    assert job_of(decision) == (job.id, status)  # the job as it is now, not as it was
    [approval] = world.store.approvals.approvals(job.id)
    assert (approval.actor, approval.decision, approval.reason) == (ADMIN, recorded, "checked")
    detail = {"reason": "checked", "iam_user": "admin", "identity_source": "fake"}
    assert pinned(only_event(world)) == (f"job.{verb}", ADMIN, job.id, "admin", detail)
    assert world.woken == (1 if approve else 0)


def test_a_decision_that_loses_the_race_changes_nothing_and_says_so(world: World) -> None:
    job = world.request()
    world.store.jobs.transition = lambda *args, **kwargs: False  # type: ignore[method-assign]
    decision = world.decisions.decide(job.id, ADMIN, True, no_email)
    assert decision.message == f"job {job.id} was decided a moment ago; nothing changed"
    assert (decision.outcome, job_of(decision)) == (Outcome.ALREADY_DECIDED, (job.id, JobStatus.AWAITING_APPROVAL))
    detail = {"action": "approve", "status": "decided concurrently"}
    assert pinned(only_event(world)) == ("approval.ignored", ADMIN, job.id, None, detail)
    assert world.store.approvals.approvals(job.id) == [] and world.woken == 0


class EmailDirectory(FakeDirectory):
    """Admins known only by their Slack profile email, as the IAM directory maps people without a Slack id tag."""

    def identify(self, slack_user_id: str, email_lookup: Callable[[], str | None]) -> Identity:
        admin = email_lookup() == "dba@example.com"
        return Identity(slack_user_id=slack_user_id, iam_user="dba" if admin else None, is_admin=admin, source="email")


@pytest.mark.parametrize("click", ["decide", "cancel"])
def test_the_email_lookup_reaches_the_directory(click: str) -> None:
    world = World()
    world.decisions.authorizer.directory = EmailDirectory(ADMINS)
    job = world.request(status=JobStatus.AWAITING_APPROVAL if click == "decide" else JobStatus.RUNNING)
    if click == "decide":
        decision = world.decisions.decide(job.id, STRANGER, True, lambda: "dba@example.com")
    else:
        decision = world.decisions.cancel(job.id, STRANGER, lambda: "dba@example.com")
    assert decision.ok


def test_cancelling_an_unknown_job(world: World) -> None:
    decision = world.decisions.cancel("j-nope", ADMIN, no_email)
    assert (decision.outcome, decision.job) == (Outcome.UNKNOWN_JOB, None)
    assert decision.message == "No restore job 'j-nope'; /rds-status lists the recent ones"


def test_a_refused_cancel_is_audited_with_the_reason(world: World) -> None:
    job = world.request(status=JobStatus.RUNNING)
    decision = world.decisions.cancel(job.id, STRANGER, no_email)
    reason = "only the requester or members of rds-admins may cancel (fake)"
    assert (decision.outcome, decision.message, job_of(decision)) == (
        Outcome.REFUSED, reason, (job.id, JobStatus.RUNNING)
    )  # fmt: skip
    assert pinned(only_event(world)) == ("cancel.refused", STRANGER, job.id, None, {"reason": reason, "iam_user": None})


def test_a_withdrawal_before_approval(world: World) -> None:
    job = world.request()
    decision = world.decisions.cancel(job.id, REQUESTER, no_email)
    assert decision.message == f"{job.id} withdrawn before approval; nothing was created"
    # The job as saved, like an Approve's: withdrawn, and marked for its card (bot/decision_notice.py).
    assert (decision.outcome, job_of(decision)) == (Outcome.WITHDRAWN, (job.id, JobStatus.CANCELLED))
    assert decision.job is not None and decision.job.withdrawn and decision.job.engine.finish_unannounced
    assert [(a.actor, a.decision) for a in world.store.approvals.approvals(job.id)] == [
        (REQUESTER, ApprovalDecision.WITHDRAWN)
    ]
    detail = {"iam_user": None, "status": "awaiting_approval"}
    assert pinned(only_event(world)) == ("job.cancelled", REQUESTER, job.id, None, detail)


def test_a_cancel_of_a_running_restore(world: World) -> None:
    job = world.request(status=JobStatus.RUNNING)
    decision = world.decisions.cancel(job.id, ADMIN, no_email)
    assert decision.message == f"cancelling {job.id}; anything already created is listed when it stops"
    assert (decision.outcome, job_of(decision)) == (Outcome.CANCELLING, (job.id, JobStatus.RUNNING))
    assert pinned(only_event(world)) == ("job.cancel_requested", ADMIN, job.id, None, {"iam_user": "admin",
                                         "status": "running"})  # fmt: skip


def test_a_withdrawal_that_loses_the_race_to_an_approval_reports_the_job_as_it_now_is(world: World) -> None:
    job = world.request()
    jobs = world.store.jobs

    def approved_meanwhile(*args: Any, **kwargs: Any) -> bool:
        jobs.by_id[job.id] = jobs.by_id[job.id].model_copy(update={"status": JobStatus.QUEUED})
        return False

    jobs.transition = approved_meanwhile  # type: ignore[method-assign]
    decision = world.decisions.cancel(job.id, REQUESTER, no_email)
    assert (decision.outcome, decision.message) == (Outcome.NOT_CANCELLABLE, f"{job.id} is queued; nothing to cancel")
    assert job_of(decision) == (job.id, JobStatus.QUEUED)


def test_a_finished_job_has_nothing_to_cancel_and_the_job_comes_back(world: World) -> None:
    job = world.request(status=JobStatus.SUCCEEDED)
    decision = world.decisions.cancel(job.id, ADMIN, no_email)
    assert job_of(decision) == (job.id, JobStatus.SUCCEEDED)
    assert world.decisions.expires_at(job) == "2026-11-25 10:00 UTC"
