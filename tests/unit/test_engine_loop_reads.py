"""What one turn of the engine loop costs the job store: the mark `finish_unannounced` is read once a loop, and that
one read serves the engine's finishes, the decision announcer and the expiry sweeper (each used to read it again).
A counting fake store makes a fourth read, or a second one, fail here; the crash tests in test_finish_announced.py
and test_decision_announced.py keep what each announcement means."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.decision_notice import DecisionAnnouncer
from bot.domain import EngineBookkeeping, Job, JobStatus
from bot.expiry import ExpirySweeper
from bot.ports import MarkShare
from bot.workflow import MARKED_PER_ANNOUNCER, Engine
from tests.support.factories import make_plan
from tests.unit.fakes import FakeAws, FakeClock, RecordingNotifier
from tests.unit.memory_store import InMemoryJobs, MemoryStore
from tests.unit.test_workflow import POLICY


class CountingJobs(InMemoryJobs):
    """The in-memory store, counting the reads the engine loop makes of it."""

    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store.audit)
        self.reads: Counter[str] = Counter()
        self.limits: list[list[int]] = []  # each read of the mark: the limit of each share

    def finished_unannounced_shares(self, shares: Sequence[MarkShare], limit_each: int = 50) -> list[Job]:
        self.reads["finished_unannounced"] += 1  # every read of the mark in this fake comes through here
        self.limits.append([limit_each] * len(shares))
        return super().finished_unannounced_shares(shares, limit_each)

    def unfinished_jobs(self) -> list[Job]:
        self.reads["unfinished_jobs"] += 1
        return super().unfinished_jobs()

    def awaiting_approval(self, created_before: datetime) -> list[Job]:
        self.reads["awaiting_approval"] += 1
        return super().awaiting_approval(created_before)


class DecidedCards:
    """The decision announcer's chat surface: which jobs' cards were told their decision."""

    def __init__(self) -> None:
        self.decided: list[str] = []

    def request_decided(self, job: Job) -> None:
        self.decided.append(job.id)


class Loop:
    """An engine wired as `rdsbot serve` wires it: the expiry sweeper and the decision announcer served by the
    tick's read of the mark, the expiry of due requests a chore."""

    def __init__(self) -> None:
        self.store, self.clock, self.aws = MemoryStore(), FakeClock(), FakeAws()
        self.jobs = CountingJobs(self.store)
        self.told, self.cards = RecordingNotifier(), DecidedCards()
        self.engine = Engine(self.jobs, self.aws.gateways, POLICY, self.told, self.clock, poll_seconds=5)
        expiry = ExpirySweeper(self.jobs, self.told, POLICY, self.clock)
        self.engine.announcers += [expiry, DecisionAnnouncer(self.jobs, self.cards)]
        self.engine.chores.append(expiry.expire_due)

    def marked(self, job_id: str, status: JobStatus) -> None:
        """A job a killed process saved with `status` and the mark, never telling chat."""
        created = self.clock.now() - timedelta(hours=2)
        job = Job(id=job_id, requester="U0ALICE", plan=make_plan(), status=status, created_at=created)
        self.jobs.add_job(job.model_copy(update={"engine": EngineBookkeeping(finish_unannounced=True)}))

    def turn(self, times: int) -> None:
        """Run the service loop itself (run_forever) for `times` turns: a last chore ends each turn at once."""
        stop, turns = threading.Event(), [0]

        def end_of_turn() -> None:
            turns[0] += 1
            if turns[0] == times:
                stop.set()
            self.engine.wake.set()  # no poll wait between the turns

        self.engine.chores.append(end_of_turn)
        try:
            self.engine.run_forever(stop)
        finally:
            self.engine.chores.remove(end_of_turn)

    def still_marked(self) -> list[str]:
        return sorted(job_id for job_id, job in self.jobs.by_id.items() if job.engine.finish_unannounced)


def test_one_loop_reads_the_mark_once_for_the_finish_the_decision_and_the_expiry() -> None:
    loop = Loop()
    loop.marked("j-finished", JobStatus.SUCCEEDED)
    loop.marked("j-denied", JobStatus.DENIED)
    loop.marked("j-expired", JobStatus.EXPIRED)
    loop.marked("j-withdrawn", JobStatus.CANCELLED)  # cancelled with nobody's request_cancel: withdrawn, a decision
    loop.turn(1)
    assert loop.jobs.reads == Counter({"finished_unannounced": 1, "unfinished_jobs": 1, "awaiting_approval": 1})
    assert "finished succeeded" in loop.told.messages
    assert [m for m in loop.told.messages if m.startswith("expired")] == [
        f"expired j-expired {JobStatus.EXPIRED} at {(loop.clock.now() - timedelta(hours=1)).isoformat()}"
    ]
    assert loop.cards.decided == []  # a decision is announced from the second loop that finds it marked
    assert loop.still_marked() == ["j-denied", "j-withdrawn"]

    loop.turn(1)
    assert loop.jobs.reads["finished_unannounced"] == 2
    assert sorted(loop.cards.decided) == ["j-denied", "j-withdrawn"] and loop.still_marked() == []
    assert loop.told.messages.count("finished succeeded") == 1
    assert [m for m in loop.told.messages if m.startswith("finished")] == ["finished succeeded"]  # no final post
    # for the withdrawal: its card says who withdrew it, the decision's to tell


def test_an_idle_loop_costs_three_reads_and_each_announcer_keeps_its_own_share_of_the_one_read() -> None:
    loop = Loop()
    loop.turn(3)
    assert loop.jobs.reads == Counter({"finished_unannounced": 3, "unfinished_jobs": 3, "awaiting_approval": 3})
    # three kinds of mark (finishes, expiries, decisions) in one read, each with a limit of its own
    assert loop.jobs.limits == [[MARKED_PER_ANNOUNCER] * 3] * 3


def test_a_backlog_of_failing_finishes_does_not_hold_back_a_marked_decision_or_expiry() -> None:
    """Chat down for as many finishes as the whole read once held (3 x 50, oldest first): the denial and the expiry
    marked after them still have a share of their own, and the read stays one a loop."""
    loop = Loop()
    for n in range(3 * MARKED_PER_ANNOUNCER):
        loop.marked(f"j-finished-{n:03}", JobStatus.FAILED)
    loop.told.job_finished = lambda job: (_ for _ in ()).throw(RuntimeError("chat down"))  # type: ignore[method-assign]
    loop.marked("j-zz-denied", JobStatus.DENIED)  # marked after every finish, and sorts after them by id too
    loop.marked("j-zz-expired", JobStatus.EXPIRED)
    loop.turn(2)
    assert loop.cards.decided == ["j-zz-denied"]
    assert [m.split(" at ")[0] for m in loop.told.messages if m.startswith("expired")] == [
        f"expired j-zz-expired {JobStatus.EXPIRED}"
    ]
    assert loop.still_marked() == [f"j-finished-{n:03}" for n in range(3 * MARKED_PER_ANNOUNCER)]  # asked again
    assert loop.jobs.reads["finished_unannounced"] == 2
