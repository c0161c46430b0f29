"""Approve, deny and cancel on in-memory repositories: who may decide, the two-person rule, expiry, exactly-once,
and an audit event for every outcome. No SQLAlchemy, no moto: the rules alone."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.approvals import Decisions, Outcome
from bot.authz import Action, Authorizer, Forbidden
from bot.domain import ApprovalDecision, Job, JobStatus
from bot.ports import Identity
from config.policy_model import Policy, parse_policy
from tests.support.factories import BOT_NETWORK, make_plan
from tests.unit.fakes import FakeClock
from tests.unit.memory_store import MemoryStore

# Test data chosen so only the rule under test can pass: the requester is NOT an admin; two admins besides.
REQUESTER, ADMIN, OTHER_ADMIN, STRANGER = "U0REQ", "U0ADMIN", "U0ADMIN2", "U0STRANGER"
ADMINS = {ADMIN: "admin", OTHER_ADMIN: "admin2", "U0REQADMIN": "reqadmin"}


def no_email() -> str | None:
    return None


class FakeDirectory:
    """AdminDirectory over a dict; counts lookups, like the IAM one would call AWS."""

    def __init__(self, admins: dict[str, str]) -> None:
        self.admins = admins
        self.lookups = 0

    def identify(self, slack_user_id: str, email_lookup: Callable[[], str | None]) -> Identity:
        self.lookups += 1
        iam_user = self.admins.get(slack_user_id)
        return Identity(slack_user_id=slack_user_id, iam_user=iam_user, is_admin=iam_user is not None, source="fake")


class World:
    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy or parse_policy({"backups": {"default_bucket": "rdsbot-backups"}, "network": BOT_NETWORK})
        self.store, self.clock, self.directory = MemoryStore(), FakeClock(), FakeDirectory(ADMINS)
        self.woken = 0
        self.decisions = Decisions(
            self.store.jobs,
            self.store.approvals,
            self.store.audit,
            Authorizer(self.directory, self.policy),
            self.policy,
            self.clock,
            wake_engine=self.wake,
        )

    def wake(self) -> None:
        self.woken += 1

    def request(self, requester: str = REQUESTER, status: JobStatus = JobStatus.AWAITING_APPROVAL) -> Job:
        job = Job(id=f"j{len(self.store.jobs.by_id)}", requester=requester, plan=make_plan(), status=status,
                  created_at=self.clock.now())  # fmt: skip
        self.store.jobs.add_job(job)
        return job

    def status(self, job: Job) -> JobStatus:
        return self.store.jobs.by_id[job.id].status


@pytest.fixture
def world() -> World:
    return World()


def test_an_admin_approves_and_the_engine_is_woken(world: World) -> None:
    job = world.request()
    decision = world.decisions.decide(job.id, ADMIN, True, no_email)
    assert decision.outcome == Outcome.APPROVED and world.status(job) == JobStatus.QUEUED and world.woken == 1
    [approval] = world.store.approvals.approvals(job.id)
    assert (approval.actor, approval.decision) == (ADMIN, ApprovalDecision.APPROVED)
    [event] = world.store.audit.audit_events(job.id)
    assert (event.action, event.iam_user, event.detail["iam_user"]) == ("job.approved", "admin", "admin")


def test_a_non_admin_cannot_approve_and_the_refusal_is_audited(world: World) -> None:
    job = world.request()
    decision = world.decisions.decide(job.id, STRANGER, True, no_email)
    assert decision.outcome == Outcome.REFUSED and "only members of rds-admins may approve" in decision.message
    assert world.status(job) == JobStatus.AWAITING_APPROVAL and world.woken == 0
    assert world.store.approvals.approvals(job.id) == []
    assert world.store.actions(job.id) == ["approval.refused"]


def test_a_non_admin_cannot_deny_either(world: World) -> None:
    job = world.request()
    assert world.decisions.decide(job.id, STRANGER, False, no_email).outcome == Outcome.REFUSED
    assert world.status(job) == JobStatus.AWAITING_APPROVAL


def test_an_admin_cannot_approve_their_own_request_two_person_rule(world: World) -> None:
    job = world.request(requester="U0REQADMIN")  # an admin, so only the two-person rule can refuse
    decision = world.decisions.decide(job.id, "U0REQADMIN", True, no_email)
    assert decision.outcome == Outcome.REFUSED and "two-person rule" in decision.message
    assert world.status(job) == JobStatus.AWAITING_APPROVAL


def test_without_the_two_person_rule_an_admin_may_approve_their_own_request() -> None:
    base = parse_policy({"backups": {"default_bucket": "rdsbot-backups"}, "network": BOT_NETWORK})
    world = World(base.model_copy(update={"approvals": base.approvals.model_copy(update={"two_person_rule": False})}))
    job = world.request(requester="U0REQADMIN")
    assert world.decisions.decide(job.id, "U0REQADMIN", True, no_email).outcome == Outcome.APPROVED


def test_an_admin_may_deny_their_own_request_under_the_two_person_rule(world: World) -> None:
    job = world.request(requester="U0REQADMIN")  # withdrawing is not approving: no second person needed
    decision = world.decisions.decide(job.id, "U0REQADMIN", False, no_email, reason="wrong backup")
    assert decision.outcome == Outcome.DENIED and world.status(job) == JobStatus.DENIED
    assert world.store.approvals.approvals(job.id)[0].reason == "wrong backup"


def test_a_click_after_expiry_expires_the_request_and_changes_nothing_else(world: World) -> None:
    job = world.request()
    world.clock.current += timedelta(minutes=world.policy.approvals.expiry_minutes, seconds=1)
    decision = world.decisions.decide(job.id, ADMIN, True, no_email)
    assert decision.outcome == Outcome.EXPIRED and world.status(job) == JobStatus.EXPIRED
    assert world.woken == 0 and world.store.approvals.approvals(job.id) == []
    assert world.store.actions(job.id) == ["approval.expired"]
    assert world.directory.lookups == 0  # an expired card needs no authorization lookup


def test_a_click_just_before_expiry_still_counts(world: World) -> None:
    job = world.request()
    world.clock.current += timedelta(minutes=world.policy.approvals.expiry_minutes)
    assert world.decisions.decide(job.id, ADMIN, True, no_email).outcome == Outcome.APPROVED


def test_a_second_decision_changes_nothing_and_is_audited(world: World) -> None:
    job = world.request()
    world.decisions.decide(job.id, ADMIN, True, no_email)
    again = world.decisions.decide(job.id, OTHER_ADMIN, False, no_email)
    assert again.outcome == Outcome.ALREADY_DECIDED and world.status(job) == JobStatus.QUEUED
    assert len(world.store.approvals.approvals(job.id)) == 1
    assert world.store.actions(job.id) == ["job.approved", "approval.ignored"]


def test_two_admins_clicking_at_once_decide_exactly_once(world: World) -> None:
    job = world.request()
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # interleave the two clicks as much as the interpreter allows
    try:
        barrier, outcomes = threading.Barrier(2), []

        def click(user: str, approve: bool) -> None:
            barrier.wait()
            outcomes.append(world.decisions.decide(job.id, user, approve, no_email).outcome)

        threads = [threading.Thread(target=click, args=args) for args in ((ADMIN, True), (OTHER_ADMIN, False))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    assert len(outcomes) == 2 and outcomes.count(Outcome.ALREADY_DECIDED) == 1
    assert len(world.store.approvals.approvals(job.id)) == 1
    decided = [a for a in world.store.actions(job.id) if a in ("job.approved", "job.denied")]
    assert len(decided) == 1


def test_a_decision_on_an_unknown_job_is_audited(world: World) -> None:
    decision = world.decisions.decide("j-nope", ADMIN, True, no_email)
    assert decision.outcome == Outcome.UNKNOWN_JOB
    assert world.store.actions(where=lambda e: e.detail.get("job_id") == "j-nope") == ["approval.unknown_job"]


def test_the_requester_may_cancel_their_own_request_without_being_an_admin(world: World) -> None:
    job = world.request()  # REQUESTER is not an admin: only the requester rule can allow this
    decision = world.decisions.cancel(job.id, REQUESTER, no_email)
    assert decision.outcome == Outcome.WITHDRAWN and world.status(job) == JobStatus.CANCELLED
    assert world.store.actions(job.id) == ["job.cancelled"]


def test_an_admin_may_cancel_someone_elses_running_restore(world: World) -> None:
    job = world.request(status=JobStatus.RUNNING)
    decision = world.decisions.cancel(job.id, ADMIN, no_email)
    assert decision.outcome == Outcome.CANCELLING and world.woken == 1
    assert world.store.jobs.by_id[job.id].cancel_requested_by == ADMIN
    assert world.store.actions(job.id) == ["job.cancel_requested"]


def test_anyone_else_may_not_cancel_and_the_refusal_is_audited(world: World) -> None:
    job = world.request(status=JobStatus.RUNNING)
    decision = world.decisions.cancel(job.id, STRANGER, no_email)
    assert decision.outcome == Outcome.REFUSED and not decision.ok
    assert "the requester or members of rds-admins may cancel" in decision.message
    assert world.store.jobs.by_id[job.id].cancel_requested_by is None
    assert world.store.actions(job.id) == ["cancel.refused"]


def test_a_finished_or_already_cancelling_job_has_nothing_to_cancel(world: World) -> None:
    done = world.request(status=JobStatus.SUCCEEDED)
    assert world.decisions.cancel(done.id, ADMIN, no_email).message == f"{done.id} is succeeded; nothing to cancel"
    running = world.request(status=JobStatus.RUNNING)
    world.decisions.cancel(running.id, ADMIN, no_email)
    again = world.decisions.cancel(running.id, OTHER_ADMIN, no_email)
    assert again.outcome == Outcome.NOT_CANCELLABLE and f"already being cancelled (asked by {ADMIN})" in again.message


def test_the_authorizer_lets_anyone_request_without_asking_the_directory() -> None:
    world = World()
    identity = world.decisions.authorizer.check(Action.REQUEST, STRANGER, no_email)
    assert identity.slack_user_id == STRANGER and world.directory.lookups == 0


def test_only_admins_may_run_a_drill() -> None:
    world = World()
    assert world.decisions.authorizer.check(Action.RUN_DRILL, ADMIN, no_email).is_admin
    with pytest.raises(Forbidden, match="only members of rds-admins may run drill"):
        world.decisions.authorizer.check(Action.RUN_DRILL, REQUESTER, no_email)


def test_a_slack_usergroup_policy_names_that_group_in_refusals() -> None:
    base = parse_policy({"backups": {"default_bucket": "rdsbot-backups"}, "network": BOT_NETWORK})
    policy = base.model_copy(
        update={"approvals": base.approvals.model_copy(update={"admin_slack_usergroup": "S0DBAS"})}
    )
    world = World(policy)
    job = world.request()
    assert "only members of S0DBAS may approve" in world.decisions.decide(job.id, STRANGER, True, no_email).message


def test_these_rules_are_tested_without_sqlalchemy_moto_or_boto3() -> None:
    import subprocess

    probe = (
        "import sys, tests.conftest, tests.unit.test_decisions; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'moto', 'boto3', 'slack_sdk'}))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert loaded.stdout.strip() == "[]"
