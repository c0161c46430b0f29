"""An expiry or a keep reminder Slack could not queue is not lost: the expiry's mark is cleared only once every
listener (the Slack outbox write included) took it, one job's failure holds back no other, and the next sweep
tells it again; a keep reminder is saved as sent only after the notifier took it, and a repeat after a crash
queues nothing twice (one reminder per deadline, by ref)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from bot.chat_outbox import MessageKind, NewMessage, Pacer
from bot.domain import AuditEvent, Job, JobStatus
from bot.expiry import ExpirySweeper
from bot.lifecycle.model import InstanceLifecycle
from bot.notifiers import FanoutNotifier
from handlers.outbox import SlackOutbox
from handlers.slack_notifier import SlackNotifier, keep_reminder_ref
from tests.support.factories import make_plan
from tests.unit.fakes import FakeClock, MemoryChatThreads, RecordingNotifier
from tests.unit.memory_store import InMemoryLifecycles, InMemorySlackOutbox, MemoryStore
from tests.unit.test_instance_lifecycle import SimulatedCrash, World as LifecycleWorld
from tests.unit.test_slack_outbox import ScriptedClient
from tests.unit.test_workflow import POLICY

SOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # the card's deadline; its value plays no part here


class BlipsOnce(InMemorySlackOutbox):
    """The outbox table refuses one write of `job_id` after its card (a store blip while queueing)."""

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id, self.blipped = job_id, False

    def enqueue(self, message: NewMessage, now: datetime) -> int:
        if message.job_id == self.job_id and message.kind != MessageKind.CARD and not self.blipped:
            self.blipped = True
            raise RuntimeError("could not write the outbox row")
        return super().enqueue(message, now)


def lapsed(store: MemoryStore, clock: FakeClock, job_id: str, hours_ago: int) -> Job:
    """A request nobody decided, made `hours_ago` hours ago (the policy's expiry is 60 minutes)."""
    created = clock.now() - timedelta(hours=hours_ago)
    job = Job(id=job_id, requester="U0ALICE", plan=make_plan(), status=JobStatus.AWAITING_APPROVAL, created_at=created)
    store.jobs.add_job(job)
    return job


def marked(store: MemoryStore, job_id: str) -> bool:
    return store.jobs.by_id[job_id].engine.finish_unannounced


def test_an_expiry_slack_could_not_queue_keeps_its_mark_holds_back_no_other_and_is_told_next_sweep() -> None:
    store, clock = MemoryStore(), FakeClock()
    older, newer = lapsed(store, clock, "j-older", 3), lapsed(store, clock, "j-newer", 2)
    rows = BlipsOnce(older.id)
    box = SlackOutbox(rows, ScriptedClient(), clock, Pacer(), monotonic=lambda: 0.0, start=False)
    slack, counted = SlackNotifier(box, MemoryChatThreads()), RecordingNotifier()
    for job in (older, newer):
        slack.post_card(job, "#rds-approvals", SOON, None, None)
        box.step()  # in Slack: its update is a write of its own
    sweeper = ExpirySweeper(store.jobs, FanoutNotifier(counted, slack), POLICY, clock)

    assert [j.id for j in sweeper.sweep()] == [older.id, newer.id]
    assert marked(store, older.id) and not marked(store, newer.id)  # nothing of the older one was queued
    queued = Counter((m.job_id, m.kind) for m in rows.rows.values())
    assert queued[(newer.id, MessageKind.CARD_UPDATE)] == 1 and queued[(newer.id, MessageKind.REQUESTER)] == 1
    assert queued[(older.id, MessageKind.CARD_UPDATE)] == 0

    assert sweeper.sweep() == [] and not marked(store, older.id)
    queued = Counter((m.job_id, m.kind) for m in rows.rows.values())
    assert queued[(older.id, MessageKind.CARD_UPDATE)] == 1 and queued[(older.id, MessageKind.REQUESTER)] == 1
    expiries = [m for m in counted.messages if m.startswith("expired")]
    assert [m.split()[1] for m in expiries] == [older.id, newer.id]  # a metric counts each expiry once


class RefusesOneReminder(RecordingNotifier):
    """A notifier that fails to take the first keep reminder (what FanoutNotifier raises when Slack's did)."""

    refused = False

    def keep_reminder(self, job: Job, lifecycle: InstanceLifecycle) -> None:
        if not self.refused:
            self.refused = True
            raise RuntimeError("could not queue the reminder")
        super().keep_reminder(job, lifecycle)


def test_a_keep_reminder_the_notifier_could_not_take_is_sent_on_the_next_tick() -> None:
    world = LifecycleWorld()
    job = world.restored()
    notifier = RefusesOneReminder()
    runner = world.runner(notifier)
    runner.tick()
    world.at(job, timedelta(seconds=90))  # a quarter of the 2m window before its end: the reminder is due
    runner.tick()
    record = world.lifecycles.get(job.id)
    assert record is not None and record.reminded_at is None  # not saved as reminded: asked again
    runner.tick()
    runner.tick()
    assert [m for m in notifier.messages if m.startswith("reminder")] == [
        f"reminder {job.id} {record.delete_at:%H:%M:%S}"
    ]
    assert world.store.actions(job.id).count("instance.reminded") == 1


class DiesSavingTheReminder(InMemoryLifecycles):
    """The process dies after the reminder was queued, as its record is saved (once)."""

    died = False

    def replace(self, record: InstanceLifecycle, events: Sequence[AuditEvent] = ()) -> bool:
        if record.reminded_at is not None and not self.died:
            self.died = True
            raise SimulatedCrash(record.job_id)
        return super().replace(record, events)


def test_a_keep_reminder_queued_before_a_crash_is_not_queued_again() -> None:
    world = LifecycleWorld()
    job = world.restored()
    world.store.lifecycles = DiesSavingTheReminder(world.store.jobs)
    rows = InMemorySlackOutbox()
    box = SlackOutbox(rows, ScriptedClient(), world.clock, Pacer(), monotonic=lambda: 0.0, start=False)
    slack = SlackNotifier(box, MemoryChatThreads())
    slack.post_card(job, "#rds-approvals", SOON, None, None)
    world.runner(FanoutNotifier(slack)).tick()
    world.at(job, timedelta(seconds=90))
    with pytest.raises(SimulatedCrash):
        world.runner(FanoutNotifier(slack)).tick()
    restarted = SlackNotifier(box, MemoryChatThreads())
    world.runner(FanoutNotifier(restarted)).tick()
    record = world.lifecycles.get(job.id)
    assert record is not None and record.reminded_at is not None and record.delete_at is not None
    reminders = [m for m in rows.rows.values() if m.kind == MessageKind.LIFECYCLE]
    assert [m.ref for m in reminders] == [keep_reminder_ref(job.id, record.delete_at)]
    assert world.store.actions(job.id).count("instance.reminded") == 1
