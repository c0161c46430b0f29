"""The console's `wait <job>` for a job whose instance is being deleted returns once the deletion's end is printed,
not merely saved: the lifecycle runner saves the end and only then tells the listeners, and a script whose last
line is that `wait` used to end the session before the "✅ deleted" line (CI's console story missed it)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from bot.domain import Job, JobStatus
from bot.entrypoints.shell import ConsoleNotifier, ConsoleSession, ConsoleUser
from bot.lifecycle.model import InstanceLifecycle, LifecyclePhase
from tests.support.factories import make_plan
from tests.support.waiting import holds_throughout

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ALICE = ConsoleUser("alice", "U0ALICE")


class Lifecycles:
    """The lifecycle table as the console reads it: one record, replaced as the runner saves."""

    def __init__(self) -> None:
        self.record: InstanceLifecycle | None = None

    def get(self, job_id: str) -> InstanceLifecycle | None:
        return self.record


class Commands:
    """What `wait` reads through ChatCommands: the job and its instance's lifecycle."""

    def __init__(self, job: Job) -> None:
        self._job = job
        self.lifecycle = self  # ChatCommands.lifecycle.lifecycles
        self.lifecycles = Lifecycles()

    def job(self, job_id: str) -> Job | None:
        return self._job if job_id == self._job.id else None


def console() -> tuple[ConsoleSession, ConsoleNotifier, Commands, Job, list[str]]:
    job = Job(id="j1", requester=ALICE.slack_id, plan=make_plan(), status=JobStatus.SUCCEEDED, created_at=T0)
    commands, said = Commands(job), list[str]()
    session = ConsoleSession(commands=commands, users={"alice": ALICE}, write=said.append, current=ALICE)  # type: ignore[arg-type]
    session.announced(job.id)  # its completion is printed already
    return session, ConsoleNotifier(session), commands, job, said


def record(phase: LifecyclePhase) -> InstanceLifecycle:
    return InstanceLifecycle(job_id="j1", region="eu-west-1", instance_id="restore-sales", phase=phase, completed_at=T0)


def test_wait_returns_only_once_the_deletions_end_is_printed():
    session, notifier, commands, job, said = console()
    deleting = record(LifecyclePhase.DELETING)
    notifier.lifecycle_changed(job, deleting, "🗑 <@U0ALICE> asked to delete restore-sales now")
    commands.lifecycles.record = record(LifecyclePhase.DELETED)  # saved by the runner, not told yet

    waiter = threading.Thread(target=session.handle, args=("wait j1",))
    waiter.start()
    holds_throughout(waiter.is_alive, 0.3, "`wait` holds while the deletion's end is saved but not printed")
    notifier.lifecycle_changed(job, commands.lifecycles.record, "✅ deleted: instance restore-sales")
    waiter.join(10)
    assert not waiter.is_alive()
    assert said[-2:] == ["[j1] ✅ deleted: instance restore-sales", "j1 is succeeded"]


def test_wait_on_a_deletion_this_session_never_saw_begin_returns_at_once():
    # An instance deleted before the console started (a stored job): no end will be printed here, so none is awaited.
    session, _, commands, _, said = console()
    commands.lifecycles.record = record(LifecyclePhase.DELETED)
    waiter = threading.Thread(target=session.handle, args=("wait j1",))
    waiter.start()
    waiter.join(10)
    assert not waiter.is_alive() and said == ["j1 is succeeded"]
