"""Stopping on SIGTERM: the engine finishes the stage in flight and starts no other; the stop steps run in order
against one deadline, and a step that hangs makes the exit code say so instead of holding the process."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from bot.domain import JobStatus, StageName, StageStatus
from bot.entrypoints.lifecycle import Shutdown
from bot.parser import parse_restore_command
from tests.unit.fakes import RecordingNotifier
from tests.unit.test_workflow import engine, world


class StopAfterStage(RecordingNotifier):
    """Asks the engine to stop the moment `stage` succeeds, as a SIGTERM arriving during it would."""

    def __init__(self, stage: StageName) -> None:
        super().__init__()
        self.stage = stage
        self.engine: Any = None

    def stage_changed(self, job, stage):
        super().stage_changed(job, stage)
        if stage.name == self.stage and stage.status == StageStatus.SUCCEEDED:
            self.engine.stopping.set()


def test_a_stopping_engine_saves_the_stage_in_flight_and_starts_no_other():
    aws, store, clock, service = world()
    job = service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1", approved=True).job
    notifier = StopAfterStage(StageName.NETWORK)
    eng = engine(aws, store, clock, notifier)
    notifier.engine = eng
    eng.tick()
    saved = store.jobs.by_id[job.id]
    assert saved.stage(StageName.NETWORK).status == StageStatus.SUCCEEDED
    assert saved.current_stage is not None and saved.current_stage.status == StageStatus.PENDING
    assert saved.status == JobStatus.RUNNING
    # A restarted engine carries on from the saved stage.
    engine(aws, store, clock).run_until_idle(timeout_seconds=600)
    assert store.jobs.by_id[job.id].status == JobStatus.SUCCEEDED and aws.mutating.count("create_instance") == 1


def test_a_stopping_engine_leaves_the_next_job_alone():
    aws, store, clock, service = world()
    first = service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1", approved=True).job
    second = service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1", approved=True).job
    notifier = StopAfterStage(StageName.NETWORK)
    eng = engine(aws, store, clock, notifier)
    notifier.engine = eng
    assert eng.tick() == 2  # both still unfinished
    statuses = sorted(store.jobs.by_id[job.id].status for job in (first, second))
    assert statuses == [JobStatus.QUEUED, JobStatus.RUNNING]  # the one in hand stopped; the other never began


def test_stop_steps_run_in_order_each_told_the_seconds_left():
    told: list[tuple[str, float]] = []
    steps = [(name, lambda left, n=name: told.append((n, left))) for name in ("intake", "engine", "store")]
    assert Shutdown(grace_seconds=5).run(steps) == 0
    assert [name for name, _ in told] == ["intake", "engine", "store"]
    assert all(0 < left <= 5 for _, left in told)


def test_a_step_that_hangs_or_fails_makes_the_exit_code_one_and_later_steps_still_run_in_time():
    release = threading.Event()
    ran: list[str] = []
    steps = [
        ("hangs", lambda left: release.wait()),
        ("after", lambda left: ran.append("after")),
    ]
    try:
        assert Shutdown(grace_seconds=0.3).run(steps) == 1
    finally:
        release.set()
    assert ran == []  # the deadline passed in the hung step: nothing runs late
    assert Shutdown(grace_seconds=5).run([("refuses", lambda left: False)]) == 1
    assert Shutdown(grace_seconds=5).run([("raises", divide_by_zero)]) == 1


def divide_by_zero(left: float) -> None:
    raise ZeroDivisionError("a bug in a stop step")


def test_sigterm_and_sigint_become_a_request_to_stop():
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            shutdown = Shutdown(grace_seconds=5)
            shutdown.install()
            os.kill(os.getpid(), signum)
            assert shutdown.requested.wait(10), signal.Signals(signum).name
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
