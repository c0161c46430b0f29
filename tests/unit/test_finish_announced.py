"""A finished job's completion survives a crash: the engine saves the finished status with `finish_unannounced`,
and a process killed before the notifier took it announces it once after the restart; a crash after the Slack
writes were queued but before the mark was cleared queues none of them twice. The expiry sweeper likewise."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from bot.chat_outbox import MessageKind, SlackMethod
from bot.domain import EngineBookkeeping, Job, JobStatus, StageOutputs, TaskLifecycle
from bot.expiry import ExpirySweeper, deadline
from bot.notifiers import FanoutNotifier, PrintNotifier
from bot.parser import parse_restore_command
from handlers.slack_notifier import SlackNotifier
from tests.support.factories import make_plan
from tests.unit.fakes import MemoryChatThreads, RecordingNotifier
from tests.unit.memory_store import InMemoryJobs, MemoryStore
from tests.unit.test_slack_outbox import ScriptedClient, outbox
from tests.unit.test_workflow import POLICY, SimulatedCrash, engine, world

SOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # the card's deadline; its value plays no part here


class DiesBeforeAnnouncing(RecordingNotifier):
    """The process dies as the completion reaches the notifier: after the finished save, before anything is sent."""

    def job_finished(self, job: Job) -> None:
        raise SimulatedCrash(job.id)


class DiesBeforeClearing(InMemoryJobs):
    """The process dies after the notifier took the completion, before the mark is cleared (once: the restarted
    process clears it)."""

    crashed = False

    def update_outputs(self, job_id: str, outputs: StageOutputs, engine: EngineBookkeeping | None = None) -> None:
        if engine is not None and engine.finish_unannounced is False and not self.crashed:
            self.crashed = True
            raise SimulatedCrash(job_id)
        super().update_outputs(job_id, outputs, engine)


def finish(outcome: JobStatus, aws, store, service) -> str:
    """Submit an approved job that will end in `outcome`; its id."""
    job = service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U0ALICE", approved=True).job
    if outcome == JobStatus.FAILED:
        original = aws.task_status

        def failing(instance, task_id):
            status = original(instance, task_id)
            return status.model_copy(update={"lifecycle": TaskLifecycle.ERROR, "task_info": "Database already exists"})

        aws.task_status = failing
    if outcome == JobStatus.CANCELLED:
        assert store.jobs.request_cancel(job.id, "U0ALICE")
    return str(job.id)


@pytest.mark.parametrize("outcome", [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED])
def test_a_crash_between_the_finished_save_and_the_announcement_is_announced_once_after_the_restart(outcome):
    aws, store, clock, service = world()
    job_id = finish(outcome, aws, store, service)
    with pytest.raises(SimulatedCrash):
        engine(aws, store, clock, DiesBeforeAnnouncing()).run_until_idle(timeout_seconds=600)
    saved = store.jobs.by_id[job_id]
    assert saved.status == outcome and saved.engine.finish_unannounced  # finished, and nobody told

    restarted = RecordingNotifier()
    again = engine(aws, store, clock, restarted)
    assert again.tick() == 0
    again.tick()
    assert restarted.messages == [f"finished {outcome}"]  # once, though the engine ticked twice
    assert not store.jobs.by_id[job_id].engine.finish_unannounced
    assert store.jobs.finished_unannounced({outcome}) == []


def test_a_finish_announced_at_once_is_not_announced_again():
    aws, store, clock, service = world()
    finish(JobStatus.SUCCEEDED, aws, store, service)
    notifier = RecordingNotifier()
    eng = engine(aws, store, clock, notifier)
    eng.run_until_idle(timeout_seconds=600)
    eng.tick()
    engine(aws, store, clock, notifier).tick()  # a restart after a clean announcement
    assert notifier.messages.count("finished succeeded") == 1


def test_the_console_prints_the_completion_after_the_restart():
    aws, store, clock, service = world()
    job_id = finish(JobStatus.SUCCEEDED, aws, store, service)
    with pytest.raises(SimulatedCrash):
        engine(aws, store, clock, DiesBeforeAnnouncing()).run_until_idle(timeout_seconds=600)
    printed: list[str] = []
    engine(aws, store, clock, FanoutNotifier(PrintNotifier(printed.append))).tick()
    assert [line for line in printed if line.startswith(f"[{job_id}] restored")], printed


def test_a_drill_job_is_announced_after_the_restart_like_a_request():
    aws, store, clock, service = world()
    job_id = finish(JobStatus.SUCCEEDED, aws, store, service)
    store.jobs.by_id[job_id] = store.jobs.by_id[job_id].model_copy(update={"is_drill": True})
    with pytest.raises(SimulatedCrash):
        engine(aws, store, clock, DiesBeforeAnnouncing()).run_until_idle(timeout_seconds=600)
    restarted = RecordingNotifier()
    engine(aws, store, clock, restarted).tick()
    assert restarted.messages == ["finished succeeded"]


def slack(clock):
    box = outbox(ScriptedClient(), clock)
    return box, SlackNotifier(box, MemoryChatThreads())


@pytest.mark.parametrize("outcome", [JobStatus.SUCCEEDED, JobStatus.FAILED])
def test_a_crash_after_the_slack_writes_were_queued_queues_none_of_them_twice(outcome):
    aws, store, clock, service = world()
    store.jobs = DiesBeforeClearing(store.audit)  # the same contracts, and the crash after the notifier
    service = type(service)(store.jobs, store.audit, aws.gateways, service.policy, clock)
    job_id = finish(outcome, aws, store, service)
    box, notifier = slack(clock)
    notifier.post_card(store.jobs.by_id[job_id], "#rds-approvals", SOON, None, None)
    box.step()  # the card is in Slack
    with pytest.raises(SimulatedCrash):
        engine(aws, store, clock, FanoutNotifier(notifier)).run_until_idle(timeout_seconds=600)
    assert store.jobs.by_id[job_id].engine.finish_unannounced
    queued = sorted(box.repository.rows)

    restarted = SlackNotifier(box, MemoryChatThreads())  # a new process on the same outbox table
    engine(aws, store, clock, FanoutNotifier(restarted)).tick()
    assert sorted(box.repository.rows) == queued  # nothing queued again
    assert not store.jobs.by_id[job_id].engine.finish_unannounced
    kinds = Counter((m.kind, m.method) for m in box.repository.rows.values())
    assert kinds[(MessageKind.FINAL, SlackMethod.POST)] == 1
    assert kinds[(MessageKind.CARD_UPDATE, SlackMethod.UPDATE)] >= 1
    for _ in range(10):
        box.step()
    assert box.repository.depth() == 0
    finals = [m for m in box.repository.rows.values() if m.kind == MessageKind.FINAL]
    assert len(finals) == 1 and finals[0].payload.text.startswith("<@U0ALICE>")


class Failing(RecordingNotifier):
    def __init__(self, times: int) -> None:
        super().__init__()
        self.times = times

    def job_finished(self, job: Job) -> None:
        if self.times:
            self.times -= 1
            raise RuntimeError("store blip while queueing")
        super().job_finished(job)


def finishes(notifier: RecordingNotifier) -> list[str]:
    return [m for m in notifier.messages if m.startswith("finished")]


def test_a_listener_that_failed_is_asked_again_next_tick_and_the_others_are_not():
    aws, store, clock, service = world()
    job_id = finish(JobStatus.SUCCEEDED, aws, store, service)
    counted, flaky = RecordingNotifier(), Failing(times=1)
    eng = engine(aws, store, clock, FanoutNotifier(counted, flaky))
    eng.run_until_idle(timeout_seconds=600)
    assert store.jobs.by_id[job_id].engine.finish_unannounced  # not announced everywhere: still marked
    assert finishes(flaky) == []
    eng.tick()
    assert finishes(flaky) == ["finished succeeded"]
    assert finishes(counted) == ["finished succeeded"]  # a metric counts the finish once
    assert not store.jobs.by_id[job_id].engine.finish_unannounced
    eng.tick()
    assert finishes(flaky) == ["finished succeeded"]


class DiesBeforeTellingTheExpiry(RecordingNotifier):
    def request_expired(self, job: Job, deadline: datetime) -> None:
        raise SimulatedCrash(job.id)


def lapsed_request(store: MemoryStore, clock) -> str:
    """A request made two hours ago that nobody decided (the policy's expiry is 60 minutes)."""
    job = Job(
        id="j-lapsed", requester="U0ALICE", plan=make_plan(), status=JobStatus.AWAITING_APPROVAL, created_at=clock.now()
    )
    store.jobs.add_job(job.model_copy(update={"created_at": clock.now() - timedelta(hours=2)}))
    return job.id


def test_an_expiry_the_process_died_before_telling_is_told_once_after_the_restart():
    aws, store, clock, _ = world()
    job_id = lapsed_request(store, clock)
    with pytest.raises(SimulatedCrash):
        ExpirySweeper(store.jobs, DiesBeforeTellingTheExpiry(), POLICY, clock).sweep()
    assert store.jobs.by_id[job_id].status == JobStatus.EXPIRED and store.jobs.by_id[job_id].engine.finish_unannounced

    told = RecordingNotifier()
    engine(aws, store, clock, told).tick()  # the engine announces its own finishes, not an expiry
    restarted = ExpirySweeper(store.jobs, told, POLICY, clock)
    assert restarted.sweep() == [] and restarted.sweep() == []  # nothing new expired ...
    assert [m for m in told.messages if job_id in m or m.startswith("finished")] == [
        f"expired {job_id} expired at {deadline(store.jobs.by_id[job_id], POLICY).isoformat()}"
    ]  # ... and the old expiry told once
    assert not store.jobs.by_id[job_id].engine.finish_unannounced


def test_an_expiry_queued_before_a_crash_is_not_queued_again():
    _, store, clock, _ = world()
    store.jobs = DiesBeforeClearing(store.audit)
    job_id = lapsed_request(store, clock)
    box, notifier = slack(clock)
    notifier.post_card(store.jobs.by_id[job_id], "#rds-approvals", SOON, None, None)
    box.step()
    with pytest.raises(SimulatedCrash):
        ExpirySweeper(store.jobs, FanoutNotifier(notifier), POLICY, clock).sweep()
    queued = sorted(box.repository.rows)
    ExpirySweeper(store.jobs, FanoutNotifier(SlackNotifier(box, MemoryChatThreads())), POLICY, clock).sweep()
    assert sorted(box.repository.rows) == queued
    kinds = Counter(m.kind for m in box.repository.rows.values())
    assert kinds[MessageKind.REQUESTER] == 1 and kinds[MessageKind.CARD_UPDATE] == 1
    assert not store.jobs.by_id[job_id].engine.finish_unannounced
