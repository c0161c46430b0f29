"""Requests lapse on time with nobody clicking: the sweeper expires each request past its deadline exactly once,
tells chat (card and requester, through the notifier port) and records it; a decision and the sweeper racing
for one request end with exactly one winner, and a click after the expiry is told so. Fake clock, no threads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from bot.approvals import Decisions, Outcome
from bot.authz import Authorizer
from bot.domain import Job, JobStatus
from bot.expiry import EXPIRY_ACTOR, ExpirySweeper, tell_expired
from bot.ports import Identity
from config.policy_model import parse_policy
from tests.support.factories import BOT_NETWORK, make_plan
from tests.unit.fakes import FakeClock, RecordingNotifier
from tests.unit.memory_store import MemoryStore

REQUESTER, ADMIN = "U0REQ", "U0ADMIN"  # the requester is no admin: only the admin's click can decide
POLICY = parse_policy({"backups": {"default_bucket": "rdsbot-backups"}, "network": BOT_NETWORK})
DEADLINE = "2026-11-25T10:00:00+00:00"  # FakeClock starts at 09:00 UTC; the policy's expiry is 60 minutes


class Directory:
    """Admins by id; `during_lookup` runs inside the decision, between its read and its compare-and-set."""

    def __init__(self) -> None:
        self.during_lookup: Callable[[], object] = lambda: None

    def identify(self, slack_user_id: str, email_lookup: Callable[[], str | None]) -> Identity:
        self.during_lookup()
        return Identity(slack_user_id=slack_user_id, iam_user="admin", is_admin=slack_user_id == ADMIN, source="t")


class World:
    def __init__(self) -> None:
        self.store, self.clock, self.notifier, self.directory = (
            MemoryStore(),
            FakeClock(),
            RecordingNotifier(),
            Directory(),
        )
        self.sweeper = ExpirySweeper(self.store.jobs, self.notifier, POLICY, self.clock)
        authorizer = Authorizer(self.directory, POLICY)
        self.decisions = Decisions(
            self.store.jobs, self.store.approvals, self.store.audit, authorizer, POLICY, self.clock, lambda: None
        )

    def request(self, minutes_ago: int = 0, status: JobStatus = JobStatus.AWAITING_APPROVAL) -> Job:
        job = Job(
            id=f"j{len(self.store.jobs.by_id)}",
            requester=REQUESTER,
            plan=make_plan(),
            status=status,
            created_at=self.clock.now() - timedelta(minutes=minutes_ago),
        )
        self.store.jobs.add_job(job)
        return job

    def at(self, hour: int, minute: int = 0, second: int = 0) -> None:
        self.clock.current = self.clock.current.replace(hour=hour, minute=minute, second=second)

    def status(self, job: Job) -> JobStatus:
        return self.store.jobs.by_id[job.id].status

    def approve(self, job: Job) -> Outcome:
        return self.decisions.decide(job.id, ADMIN, True, lambda: None).outcome


@pytest.fixture
def world() -> World:
    return World()


def test_at_its_deadline_a_request_still_stands_and_a_second_later_it_lapses(world: World) -> None:
    job = world.request()
    world.at(10, 0, 0)
    assert world.sweeper.sweep() == [] and world.status(job) == JobStatus.AWAITING_APPROVAL
    world.at(10, 0, 1)
    [expired] = world.sweeper.sweep()
    assert (expired.id, expired.status, world.status(job)) == (job.id, JobStatus.EXPIRED, JobStatus.EXPIRED)


def test_the_expiry_is_audited_and_chat_is_told_once(world: World) -> None:
    job = world.request()
    world.at(10, 0, 1)
    world.sweeper.sweep()
    [event] = world.store.events
    assert (event.action, event.actor, event.job_id) == ("approval.expired", EXPIRY_ACTOR, job.id)
    assert event.detail == {"deadline": DEADLINE, "by": "sweeper"}
    assert world.notifier.messages == [f"expired {job.id} expired at {DEADLINE}"]
    world.at(11)
    assert world.sweeper.sweep() == []  # exactly once: the next sweep finds nothing to do
    assert len(world.store.events) == 1 and len(world.notifier.messages) == 1


def test_only_requests_past_their_deadline_and_still_waiting_lapse(world: World) -> None:
    due_old, due = world.request(minutes_ago=300), world.request(minutes_ago=61)
    fresh = world.request(minutes_ago=59)
    decided = [world.request(minutes_ago=300, status=status) for status in (JobStatus.QUEUED, JobStatus.DENIED)]
    assert [job.id for job in world.sweeper.sweep()] == [due_old.id, due.id]  # oldest first
    assert world.status(fresh) == JobStatus.AWAITING_APPROVAL
    assert [world.status(job) for job in decided] == [JobStatus.QUEUED, JobStatus.DENIED]


def test_a_click_after_the_sweep_is_told_the_request_expired_and_changes_nothing(world: World) -> None:
    job = world.request()
    world.at(10, 5)
    world.sweeper.sweep()
    decision = world.decisions.decide(job.id, ADMIN, True, lambda: None)
    assert decision.outcome == Outcome.ALREADY_DECIDED
    assert decision.message == (
        f"this request ({job.id}) already expired at 2026-11-25 10:00 UTC with no decision; nothing was created. "
        "Ask again with /rds-restore"
    )
    assert world.store.actions(job.id) == ["approval.expired", "approval.ignored"]
    assert world.store.approvals.approvals(job.id) == [] and world.status(job) == JobStatus.EXPIRED


def test_an_approval_in_time_stands_and_the_later_sweep_leaves_it(world: World) -> None:
    job = world.request()
    world.at(9, 59, 59)
    assert world.approve(job) == Outcome.APPROVED
    world.at(10, 30)
    assert world.sweeper.sweep() == [] and world.status(job) == JobStatus.QUEUED
    assert world.store.actions(job.id) == ["job.approved"] and world.notifier.messages == []


def test_an_approve_committing_between_the_sweeps_read_and_write_wins(world: World) -> None:
    job = world.request()
    world.at(9, 59, 59)
    read = world.store.jobs.awaiting_approval

    def read_then_approve(created_before: datetime) -> list[Job]:
        # A sweeper whose clock runs a minute ahead of the click's saw the request due and waiting...
        due = read(created_before + timedelta(minutes=1))
        assert world.approve(job) == Outcome.APPROVED  # ...and the admin's click committed first
        return due

    world.store.jobs.awaiting_approval = read_then_approve  # type: ignore[method-assign]
    assert world.sweeper.sweep() == []
    assert world.status(job) == JobStatus.QUEUED and world.notifier.messages == []
    assert world.store.actions(job.id) == ["job.approved"]  # no expiry recorded for a request that ran


def test_a_sweep_committing_between_the_clicks_read_and_write_wins(world: World) -> None:
    job = world.request()
    world.at(9, 59, 59)  # the click is in time when it reads the job...

    def sweep_meanwhile() -> None:
        world.at(10, 0, 1)  # ...but the sweeper's expiry commits before the click's compare-and-set
        world.sweeper.sweep()

    world.directory.during_lookup = sweep_meanwhile
    decision = world.decisions.decide(job.id, ADMIN, True, lambda: None)
    assert decision.outcome == Outcome.ALREADY_DECIDED and "already expired" in decision.message
    assert world.status(job) == JobStatus.EXPIRED and world.store.approvals.approvals(job.id) == []
    assert world.store.actions(job.id) == ["approval.expired", "approval.ignored"]
    assert len(world.notifier.messages) == 1  # told once, by the sweeper


def test_a_click_that_expires_the_request_itself_beats_the_sweeper_and_the_sweeper_stays_quiet(world: World) -> None:
    job = world.request()
    world.at(10, 0, 1)
    decision = world.decisions.decide(job.id, ADMIN, True, lambda: None)
    assert (decision.outcome, decision.job.status if decision.job else None) == (Outcome.EXPIRED, JobStatus.EXPIRED)
    assert decision.job is not None
    tell_expired(world.store.jobs, RecordingNotifier(), decision.job, POLICY)  # the click's surface tells chat
    assert world.sweeper.sweep() == [] and world.notifier.messages == []
    assert world.store.actions(job.id) == ["approval.expired"]


def test_a_click_expiring_a_request_the_sweeper_just_expired_does_not_expire_it_twice(world: World) -> None:
    job = world.request()
    world.at(10, 0, 1)
    read = world.store.jobs.get_job
    swept: list[bool] = []

    def read_then_sweep(job_id: str) -> Job | None:
        found = read(job_id)
        if not swept:  # once: the sweeper's own read after its expiry must not sweep again from inside
            swept.append(True)
            world.sweeper.sweep()  # lands between the click's read and its compare-and-set
        return found

    world.store.jobs.get_job = read_then_sweep  # type: ignore[method-assign]
    decision = world.decisions.decide(job.id, ADMIN, True, lambda: None)
    assert decision.outcome == Outcome.ALREADY_DECIDED and "already expired" in decision.message
    assert world.store.actions(job.id) == ["approval.expired", "approval.ignored"]
    assert len(world.notifier.messages) == 1


def test_a_click_that_expired_the_request_and_died_before_telling_chat_is_told_by_the_sweeper(world: World) -> None:
    job = world.request()
    world.at(10, 0, 1)
    decision = world.decisions.decide(job.id, ADMIN, True, lambda: None)
    assert decision.outcome == Outcome.EXPIRED  # saved with its mark; the process dies before its surface tells chat
    assert world.sweeper.sweep() == [] and len(world.notifier.messages) == 1  # told, though not expired again
    assert world.sweeper.sweep() == [] and len(world.notifier.messages) == 1
    assert world.store.actions(job.id) == ["approval.expired"]
