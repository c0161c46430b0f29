"""Several rdsbot replicas on one PostgreSQL database: exactly one schedules drills, a dead leader is replaced,
and each due drill runs exactly once."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from aws.clients import AwsClients
from aws.sandbox.moto_seed import seed_sandbox
from bot.bootstrap import Drills, Rdsbot, build, build_commands, build_drills
from bot.drills.runs import DrillPhase
from bot.leader import LeaderElector
from bot.pg_locks import SCOPED_KEY
from config.policy_model import load_policy
from config.settings import Settings
from tests.integration.store_fixtures import postgres_schema
from tests.integration.test_drills_end_to_end import RecordingReporter, drill_leftovers, policy_file
from tests.support.waiting import holds_throughout

pytestmark = pytest.mark.postgres


def wait_for(condition: Callable[[], object], timeout: float = 30.0) -> None:
    """Poll until `condition` holds; a deadline for a hung test, not an assertion about speed."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never held")
        time.sleep(0.02)


def holder_of(url: str, key: int) -> int | None:
    """The backend pid holding the advisory lock `key` of the schema `url` works in, if any."""
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    f"AND ((classid::bigint << 32) | objid::bigint) = {SCOPED_KEY}"
                ),
                {"key": key},
            ).scalar()
    finally:
        engine.dispose()


def kill_backend(url: str, pid: int) -> None:
    """What a crashed replica looks like to PostgreSQL: its session ends, and with it its advisory locks.

    pg_terminate_backend(pid) alone only sends the signal ("returns true whether the process actually terminates or
    not", PostgreSQL docs, "Server Signaling Functions"): the dying backend may still hold the lock when the next
    elector asks. With a timeout (PostgreSQL 14+) it returns once the backend has exited, false if it has not.
    """
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            ended = conn.execute(sa.text("SELECT pg_terminate_backend(:pid, 30000)"), {"pid": pid}).scalar()
            assert ended is True, f"backend {pid} still running 30 s after pg_terminate_backend"
    finally:
        engine.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_schema() as url:
        yield url


def test_electors_on_two_schemas_of_one_database_each_elect_their_own_leader(postgres_url: str):
    # Advisory locks are database-wide: without the schema in the key, one deployment would lead the other's.
    key = secrets.randbits(62)
    with postgres_schema() as other_url:
        here = LeaderElector(postgres_url, lambda: None, lambda: None, key=key)
        there = LeaderElector(other_url, lambda: None, lambda: None, key=key)
        try:
            assert here.step() is True and there.step() is True
            assert holder_of(postgres_url, key) != holder_of(other_url, key)
        finally:
            here.stop()
            there.stop()


def test_of_two_electors_exactly_one_leads_and_the_other_takes_over_when_it_dies(postgres_url: str):
    key = secrets.randbits(62)
    events: list[str] = []

    def record(event: str) -> Callable[[], None]:
        return lambda: events.append(event)

    electors = [LeaderElector(postgres_url, record(f"{n} elected"), record(f"{n} out"), key=key) for n in ("a", "b")]
    a, b = electors
    assert a.step() is True and b.step() is False and b.step() is False
    assert holder_of(postgres_url, key) is not None
    kill_backend(postgres_url, holder_of(postgres_url, key) or 0)
    assert a.step() is False  # its heartbeat finds the session gone: it steps down first
    assert b.step() is True
    assert events == ["a elected", "a out", "b elected"]
    for elector in electors:
        elector.stop()
    assert holder_of(postgres_url, key) is None


class Leadership:
    """Every election and deposition of the replicas' schedulers, as it happens, with how many led at each moment.

    Recorded inside the electors' callbacks, which run while the advisory lock is held: a second leader at any
    instant shows here, not only when a poll happens to land on it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.leading: set[str] = set()
        self.transitions: list[tuple[str, str, int]] = []  # (replica, "elected" | "deposed", leaders after)

    def watch(self, name: str, elector: LeaderElector) -> None:
        elected, deposed = elector._on_elected, elector._on_deposed

        def on_elected() -> None:
            self._record(name, "elected")
            elected()

        def on_deposed() -> None:
            deposed()
            self._record(name, "deposed")

        elector._on_elected, elector._on_deposed = on_elected, on_deposed

    def _record(self, name: str, what: str) -> None:
        with self._lock:
            (self.leading.add if what == "elected" else self.leading.discard)(name)
            self.transitions.append((name, what, len(self.leading)))

    @property
    def most_at_once(self) -> int:
        with self._lock:
            return max((n for _, _, n in self.transitions), default=0)


class Replica:
    def __init__(self, settings: Settings, key: int, engine: bool, name: str, leadership: Leadership) -> None:
        self.app: Rdsbot = build(settings)
        self.reporter = RecordingReporter()
        self.drills: Drills = build_drills(
            self.app, self.reporter, build_commands(self.app), leader_retry_seconds=0.05, leader_key=key
        )
        assert self.drills.elector is not None, "PostgreSQL elects a leader"
        leadership.watch(name, self.drills.elector)
        # One restore engine between them: two engines on one job race on its saved state (an engine matter, not
        # a scheduling one; see the report).
        self.stop_engine = self.app.engine.start_background() if engine else threading.Event()
        self.drills.start()
        self.closed = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.drills.stop()
        self.stop_engine.set()
        self.app.close()


def test_two_scheduler_replicas_on_one_postgresql_run_each_due_drill_exactly_once(
    aws: AwsClients, postgres_url: str, tmp_path: Path
):
    path = policy_file(tmp_path)
    seed_sandbox(load_policy(path))
    settings = Settings(
        config=path,
        database_url=postgres_url,
        sqlserver_driver="sandbox",
        sandbox_restore_seconds=0.3,
        sandbox_state_path=tmp_path / "sandbox.json",
        poll_seconds=0.05,
    )
    key = secrets.randbits(62)
    leadership = Leadership()
    replicas = [Replica(settings, key, True, "a", leadership), Replica(settings, key, False, "b", leadership)]

    def leaders() -> list[Replica]:
        return [r for r in replicas if r.drills.scheduler.running]

    try:
        wait_for(lambda: len(leaders()) == 1)
        first = leaders()[0]
        first.drills.scheduler.fire_now("nightly")
        wait_for(lambda: [r.phase for r in first.drills.runs.history("nightly")] == [DrillPhase.DONE])

        # The leader's process exits (its session, and so its lock, ends); the follower takes over scheduling
        # from the same stored jobs. A session cut under a live leader is the elector test above.
        first.close()
        if first is replicas[0]:
            replicas[1].stop_engine = replicas[1].app.engine.start_background()
        wait_for(lambda: leaders() and leaders()[0] is not first)
        second = leaders()[0]
        assert second.drills.scheduler.next_run("nightly") is not None  # the stored schedule, not a fresh one
        # A takeover must not replay the drill that already ran: watched over a few of the new leader's ticks.
        holds_throughout(lambda: len(second.drills.runs.history("nightly")) == 1, 0.5, "one nightly run only")
        second.drills.scheduler.fire_now("nightly")
        wait_for(lambda: [r.phase for r in second.drills.runs.history("nightly")] == [DrillPhase.DONE] * 2)
    finally:
        for replica in replicas:
            replica.close()
    runs = replicas[0].drills.runs.history("nightly")
    assert len(runs) == 2 and len({r.job_id for r in runs}) == 2
    jobs = [j for j in replicas[0].app.store.jobs.list_jobs(is_drill=True) if j.requester == "drill:nightly"]
    assert len(jobs) == 2
    assert leadership.most_at_once == 1, leadership.transitions
    first_name = "a" if first is replicas[0] else "b"
    second_name = "b" if first_name == "a" else "a"
    assert leadership.transitions[:3] == [(first_name, "elected", 1), (first_name, "deposed", 0),
                                          (second_name, "elected", 1)], leadership.transitions  # fmt: skip
    assert drill_leftovers(aws) == [], [
        (r.id, r.trigger, r.removed, r.kept, r.option_group_preexisted, r.created_at, r.finished_at) for r in runs
    ] + [(j.id, j.created_resources, j.outputs.option_group, j.created_at) for j in jobs]
