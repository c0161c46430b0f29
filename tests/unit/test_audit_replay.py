"""Every state change of a job has its audit event, whatever the ending: replaying a job's trail from nothing must
arrive at exactly the status and stage states the store holds, for success, failure, cancel (before and during
the restore), expiry and denial. On in-memory fakes: the rules, not the transport."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.approvals import Decisions
from bot.authz import Authorizer
from bot.domain import AuditEvent, Job, JobStatus, StageStatus, TaskLifecycle, stage_order
from bot.parser import parse_restore_command
from tests.unit.test_decisions import ADMIN, ADMINS, REQUESTER, FakeDirectory, no_email
from tests.unit.test_workflow import POLICY, engine, world

STATUS_OF = {
    "job.requested": JobStatus.AWAITING_APPROVAL,
    "job.approved": JobStatus.QUEUED,
    "job.denied": JobStatus.DENIED,
    "approval.expired": JobStatus.EXPIRED,
    "job.started": JobStatus.RUNNING,
    "job.succeeded": JobStatus.SUCCEEDED,
    "job.failed": JobStatus.FAILED,
    "job.cancelled": JobStatus.CANCELLED,
}


class Story:
    def __init__(self) -> None:
        self.aws, self.store, self.clock, self.service = world()
        authorizer = Authorizer(FakeDirectory(ADMINS), POLICY)
        self.decisions = Decisions(self.store.jobs, self.store.approvals, self.store.audit, authorizer, POLICY,
                                   self.clock, wake_engine=lambda: None)  # fmt: skip
        self.job = self.service.submit(parse_restore_command("prod-backup.bak db.m5.large"), REQUESTER).job

    def approve_and_run(self) -> None:
        self.decisions.decide(self.job.id, ADMIN, True, no_email)
        engine(self.aws, self.store, self.clock).run_until_idle(timeout_seconds=600)


def succeed(story: Story) -> None:
    story.approve_and_run()


def fail(story: Story) -> None:
    original = story.aws.task_status
    story.aws.task_status = lambda instance, task: original(instance, task).model_copy(
        update={"lifecycle": TaskLifecycle.ERROR, "task_info": "Database already exists"}
    )
    story.approve_and_run()


def cancel_during_restore(story: Story) -> None:
    story.aws.polls_until_restored = 10
    story.decisions.decide(story.job.id, ADMIN, True, no_email)
    eng = engine(story.aws, story.store, story.clock)
    while not story.store.jobs.by_id[story.job.id].percent_complete:
        eng.tick()
    story.decisions.cancel(story.job.id, ADMIN, no_email)
    eng.run_until_idle(timeout_seconds=600)


def withdraw(story: Story) -> None:
    story.decisions.cancel(story.job.id, REQUESTER, no_email)


def expire(story: Story) -> None:
    story.clock.current += timedelta(minutes=POLICY.approvals.expiry_minutes, seconds=1)
    story.decisions.decide(story.job.id, ADMIN, True, no_email)


def deny(story: Story) -> None:
    story.decisions.decide(story.job.id, ADMIN, False, no_email, reason="not during the freeze")


def replay(trail: list[AuditEvent], job: Job) -> tuple[list[JobStatus], dict[str, StageStatus]]:
    """The statuses the trail passes through, and each stage's state as the trail tells it."""
    history: list[JobStatus] = []
    stages = {name.value: StageStatus.PENDING for name in stage_order(job.kind)}
    for event in trail:
        if event.action == "stage.started":
            stages[event.detail["stage"]] = StageStatus.RUNNING
        elif event.action == "stage.succeeded":
            assert stages[event.detail["stage"]] == StageStatus.RUNNING, "finished before it started"
            stages[event.detail["stage"]] = StageStatus.SUCCEEDED
        elif event.action in STATUS_OF:
            history.append(STATUS_OF[event.action])
            if event.action in ("job.failed", "job.cancelled"):  # the stage it stopped in ends failed
                stages = {k: StageStatus.FAILED if v == StageStatus.RUNNING else v for k, v in stages.items()}
    return history, stages


@pytest.mark.parametrize(
    ("ending", "statuses"),
    [
        (succeed, ["awaiting_approval", "queued", "running", "succeeded"]),
        (fail, ["awaiting_approval", "queued", "running", "failed"]),
        (cancel_during_restore, ["awaiting_approval", "queued", "running", "cancelled"]),
        (withdraw, ["awaiting_approval", "cancelled"]),
        (expire, ["awaiting_approval", "expired"]),
        (deny, ["awaiting_approval", "denied"]),
    ],
)
def test_every_state_change_of_a_job_has_its_audit_event_whatever_the_ending(
    ending: Callable[[Story], None], statuses: list[str]
) -> None:
    story = Story()
    ending(story)
    job = story.store.jobs.by_id[story.job.id]
    history, stages = replay(story.store.audit.audit_events(job.id), job)
    assert history == statuses and history[-1] == job.status
    assert stages == {stage.name.value: stage.status for stage in job.stages}


def test_the_replay_would_notice_a_missing_event() -> None:
    story = Story()
    succeed(story)
    job = story.store.jobs.by_id[story.job.id]
    trail = [e for e in story.store.audit.audit_events(job.id) if e.action != "job.started"]
    assert replay(trail, job)[0] != ["awaiting_approval", "queued", "running", "succeeded"]
