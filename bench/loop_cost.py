"""What the loops cost the job store and RDS when nothing (or one restore) happens: SQL statements per idle minute of
the engine loop and of the Slack outbox sender, statements per restore, and DescribeOrderableDBInstanceOptions calls
per /rds-restore preflight. Each line sets the old behaviour (reproduced in this run where it still can be) beside
the new one and a floor measured in the same run: what the loop cannot do without.

    python -m bench.loop_cost

On a SQLite job store in a temporary folder (statements counted by SQLAlchemy's before_cursor_execute), simulated
time (nothing sleeps), the AWS fakes of tests/unit and the DescribeOrderableDBInstanceOptions stand-in of
tests/support (RDS's paging and filters on a real boto3 client). The engine is wired as bot/bootstrap wires it.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import sqlalchemy as sa

from aws.instances import Instances
from bot.decision_notice import DECIDED, DecisionAnnouncer
from bot.domain import Job, JobStatus
from bot.expiry import ExpirySweeper
from bot.parser import parse_restore_command
from bot.policy import plan_restore
from bot.preflight import preflight
from bot.service import RestoreService
from bot.store import SqlStore
from bot.workflow import ENGINE_FINISHES, Engine
from config.policy_model import parse_policy
from handlers.outbox import IDLE_POLL_SECONDS, LEASE_SECONDS, SlackOutbox
from handlers.slack_notifier import SlackNotifier
from tests.support.factories import BOT_NETWORK
from tests.support.orderable_stand_in import MAX_PAGE, OrderableStandIn, offers
from tests.support.simulated_wake import SimulatedWake
from tests.unit.fakes import FakeAws, FakeClock, RecordingNotifier
from tests.unit.test_slack_outbox import ScriptedClient

POLICY = parse_policy({"backups": {"default_bucket": "rdsbot-backups"}, "network": BOT_NETWORK})
ENGINE_POLL_SECONDS = 15.0  # RDSBOT_POLL_SECONDS' default: the engine loop turns 4 times an idle minute
OLD_SENDER_POLL_SECONDS = 0.25  # the sender's idle poll before it woke on its event


class Statements:
    """SQL statements sent to the store while counting."""

    def __init__(self, store: SqlStore) -> None:
        self.count = 0
        sa.event.listen(store.engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: Any, **__: Any) -> None:
        self.count += 1

    def during(self, work: Callable[[], object]) -> int:
        before = self.count
        work()
        return self.count - before


@contextmanager
def sqlite_store() -> Iterator[SqlStore]:
    with tempfile.TemporaryDirectory() as folder:
        store = SqlStore(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            yield store
        finally:
            store.close()


def _turns(engine: Engine, times: int) -> None:
    """The service loop itself (run_forever) for `times` turns, no poll wait between them."""
    stop, turned = threading.Event(), [0]

    def end_of_turn() -> None:
        turned[0] += 1
        if turned[0] == times:
            stop.set()
        engine.wake.set()

    engine.chores.append(end_of_turn)
    engine.run_forever(stop)
    engine.chores.remove(end_of_turn)


def engine_loop_per_idle_minute() -> tuple[float, float, float]:
    """(old, new, floor) statements an idle minute: the old loop read the finish mark three times a turn (the tick,
    the expiry sweeper, the decision announcer); the new reads it once for all three."""
    turns = round(60 / ENGINE_POLL_SECONDS)
    results: list[float] = []
    for wiring in ("old", "new"):
        with sqlite_store() as store:
            clock, aws = FakeClock(), FakeAws()
            engine = Engine(store.jobs, aws.gateways, POLICY, RecordingNotifier(), clock, ENGINE_POLL_SECONDS)
            expiry = ExpirySweeper(store.jobs, RecordingNotifier(), POLICY, clock)
            decisions = DecisionAnnouncer(store.jobs, _NoCards())
            if wiring == "old":  # as bot/bootstrap wired it before: each sweeper a chore with its own read
                engine.chores += [expiry.sweep, decisions.sweep]
            else:  # as bot/bootstrap wires it now
                engine.announcers += [expiry, decisions]
                engine.chores.append(expiry.expire_due)
            counted = Statements(store)
            results.append(counted.during(lambda e=engine: _turns(e, turns)))  # type: ignore[misc]
    with sqlite_store() as store:
        counted = Statements(store)
        statuses = set(ENGINE_FINISHES) | set(DECIDED) | {JobStatus.EXPIRED}

        def floor() -> None:  # what any turn reads: the marks, the jobs to drive, the requests due to lapse
            for _ in range(turns):
                store.jobs.finished_unannounced(statuses)
                store.jobs.unfinished_jobs()
                store.jobs.awaiting_approval(FakeClock().now() - timedelta(hours=1))

        results.append(counted.during(floor))
    old, new, least = results
    return old, new, least


class _NoCards:
    def request_decided(self, job: Job) -> None:
        raise AssertionError("nothing is marked in an idle store")


def sender_per_idle_minute() -> tuple[float, float, float]:
    """(old, new, floor) statements an idle minute of the Slack outbox sender: it looked every 0.25 s; it now wakes
    on its own queueing and looks every half lease. Floor: one look per lease (a write a dead sender held is free
    after one lease; looking less often lets it wait longer than that)."""
    results: list[float] = []
    for poll in (OLD_SENDER_POLL_SECONDS, IDLE_POLL_SECONDS):
        with sqlite_store() as store:
            clock, mono = FakeClock(), [0.0]
            wake = SimulatedWake(clock, mono, 60.0)
            box = SlackOutbox(
                store.slack_outbox,
                ScriptedClient(),
                clock,
                monotonic=lambda m=mono: m[0],  # type: ignore[misc]
                start=False,
                idle_poll_seconds=poll,
                wake=wake,
            )
            wake.stop = box.stop
            counted = Statements(store)
            results.append(counted.during(box.run))
    with sqlite_store() as store:
        look = Statements(store).during(lambda: store.slack_outbox.heads(FakeClock().now()))
    return results[0], results[1], look * 60 / LEASE_SECONDS


class CountingRevisions:
    """Counts the revise_unsent write transactions the notifier asks of the outbox table."""

    def __init__(self, table: Any) -> None:
        self.table, self.revisions = table, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.table, name)

    def revise_unsent(self, *args: Any, **kwargs: Any) -> bool:
        self.revisions += 1
        return bool(self.table.revise_unsent(*args, **kwargs))


def per_restore(progress_polls: int) -> tuple[int, int, int, int]:
    """(statements with the Slack notifier, revise_unsent calls, floor statements without any chat, mark reads)
    for one restore of `progress_polls` progress polls, its sender stepping between engine ticks."""
    statements, revisions, marks = _one_restore(progress_polls, with_chat=True)
    floor, _, _ = _one_restore(progress_polls, with_chat=False)
    return statements, revisions, floor, marks


def _one_restore(progress_polls: int, with_chat: bool) -> tuple[int, int, int]:
    with sqlite_store() as store:
        clock, aws = FakeClock(), FakeAws(objects={"rdsbot-backups/prod-backup.bak": 2**30})
        aws.polls_until_restored = progress_polls
        table = CountingRevisions(store.slack_outbox)
        box = SlackOutbox(table, ScriptedClient(), clock, monotonic=lambda: 1e9, start=False)
        notifier = SlackNotifier(box, store.chat_threads) if with_chat else RecordingNotifier()
        service = RestoreService(store.jobs, store.audit, aws.gateways, POLICY, clock)
        job = service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U0ALICE", approved=True).job
        if isinstance(notifier, SlackNotifier):
            notifier.post_card(job, "#rds-approvals", clock.now(), None, None)
        engine = Engine(store.jobs, aws.gateways, POLICY, notifier, clock, ENGINE_POLL_SECONDS)
        counted, marks = Statements(store), [0]
        original = store.jobs.finished_unannounced

        def marked(*args: Any, **kwargs: Any) -> list[Job]:
            marks[0] += 1
            return original(*args, **kwargs)

        store.jobs.finished_unannounced = marked  # type: ignore[method-assign]

        def restore() -> None:
            while engine.tick():
                box.step()
                clock.sleep(ENGINE_POLL_SECONDS)
            for _ in range(10):
                box.step()

        return counted.during(restore), table.revisions, marks[0]


def preflight_calls(rows: int) -> tuple[int, int, int]:
    """(old, new, floor) DescribeOrderableDBInstanceOptions calls for one preflight against a region listing `rows`
    options of the engine: the old preflight listed the classes at 100 a page, then the class's versions; the floor
    is the fewest pages RDS answers the engine's rows in (MaxRecords at most 1000)."""
    sizes = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge")
    classes = [f"db.{f}.{s}" for f in ("m5", "m5d", "m6i", "m7i", "r5", "r5b", "r6i", "r7i", "x2iedn") for s in sizes]
    versions = [f"{m}.{n}.1.v1" for m in ("13.00", "14.00", "15.00", "16.00") for n in range(4400, 4410)]
    region = offers("sqlserver-se", classes, versions, ("gp2", "gp3", "io1", "io2"))[:rows]
    client = boto3.client("rds", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    stand_in = OrderableStandIn(region)
    stand_in.attach(client)
    cls = region[0].DBInstanceClass
    listing = client.get_paginator("describe_orderable_db_instance_options")
    list(listing.paginate(Engine="sqlserver-se"))  # the old class listing: the engine, at the default 100 a page
    list(listing.paginate(Engine="sqlserver-se", DBInstanceClass=cls))  # the old version listing: the class's rows
    old = len(stand_in.requests)
    stand_in.requests.clear()
    fakes = FakeAws(objects={"rdsbot-backups/prod-backup.bak": 2**30})
    gateways = dataclasses.replace(fakes.gateways(), instances=Instances(client))
    plan = plan_restore(parse_restore_command(f"prod-backup.bak {cls}"), POLICY, "j1")
    try:
        preflight(plan, gateways, POLICY)
    except Exception as exc:  # a refusal still made its calls; the bench counts them either way
        print(f"  (preflight refused: {exc})")
    return old, len(stand_in.requests), math.ceil(rows / MAX_PAGE)


def main() -> None:
    old, new, floor = engine_loop_per_idle_minute()
    print("store statements per idle minute            old    new  floor  new/floor")
    print(f"  engine loop (tick + chores, 4 turns)  {old:>7.0f} {new:>6.0f} {floor:>6.0f} {new / floor:>9.2f}x")
    old, new, floor = sender_per_idle_minute()
    print(f"  Slack outbox sender                   {old:>7.0f} {new:>6.0f} {floor:>6.0f} {new / floor:>9.2f}x")
    print("per restore (one restore, sender stepping between ticks)")
    for polls in (10, 100):
        total, revisions, bare, marks = per_restore(polls)
        print(
            f"  {polls:>3} progress polls: {total} statements with Slack ({revisions} revise_unsent, {marks} mark"
            f" reads), floor {bare} without chat: {total / bare:.2f}x"
        )
    print("DescribeOrderableDBInstanceOptions calls per /rds-restore preflight    old    new  floor")
    for rows in (384, 4800, 11520):
        old_calls, new_calls, least = preflight_calls(rows)
        where = f"a region listing {rows:>5} options of the engine"
        print(f"  {where:<64} {old_calls:>6} {new_calls:>6} {least:>6}")


if __name__ == "__main__":
    main()
