"""The Slack outbox sender wakes when this process queues a write, and otherwise looks at the table rarely: what it
cannot hear of (another replica's write whose sender died, a lease a killed sender left, a retry from before a
restart) waits at most an idle poll, derived from the lease (handlers/outbox.py IDLE_POLL_SECONDS). Driven on a
simulated clock: the sender's wait moves the clock instead of sleeping, and a write queued "meanwhile" cuts it short
as the real event would."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.chat_outbox import Delivery, MessageKind, OutboxMessage, Pacer
from handlers.outbox import IDLE_POLL_SECONDS, LEASE_SECONDS, SlackOutbox
from tests.support.simulated_wake import SimulatedWake
from tests.unit.fakes import FakeClock
from tests.unit.memory_store import InMemorySlackOutbox
from tests.unit.test_slack_outbox import ScriptedClient, slack_error


class CountingTable(InMemorySlackOutbox):
    """The outbox table, counting the sender's looks at it."""

    def __init__(self) -> None:
        super().__init__()
        self.looks = 0

    def heads(self, now: datetime, limit: int = 50) -> list[OutboxMessage]:
        self.looks += 1
        return super().heads(now, limit)


Sender = tuple[SlackOutbox, SimulatedWake, ScriptedClient]


def sender(seconds: float, table: InMemorySlackOutbox | None = None) -> Sender:
    """A sender that runs `seconds` of simulated time when run() is called."""
    clock, mono, client = FakeClock(), [0.0], ScriptedClient()
    wake = SimulatedWake(clock, mono, seconds)
    box = SlackOutbox(table or CountingTable(), client, clock, Pacer(), lambda: mono[0], start=False, wake=wake)
    wake.stop = box.stop
    return box, wake, client


def delivered(box: SlackOutbox, message_id: int) -> OutboxMessage:
    repository = box.repository
    assert isinstance(repository, InMemorySlackOutbox)
    message = repository.rows[message_id]
    assert message.state == Delivery.DELIVERED, message
    return message


def delay(message: OutboxMessage) -> float:
    assert message.delivered_at is not None
    return (message.delivered_at - message.created_at).total_seconds()


def test_idle_the_sender_looks_at_the_table_at_most_five_times_a_simulated_minute() -> None:
    table = CountingTable()
    box, _, _ = sender(60.0, table)
    box.run()
    assert table.looks <= 1 + 60 / IDLE_POLL_SECONDS == 5  # the 0.25 s poll looked 241 times


def test_a_write_queued_while_idle_goes_at_once_not_at_the_next_idle_poll() -> None:
    box, wake, client = sender(60.0)
    queued: list[int] = []
    wake.at(3.0, lambda: queued.append(box.post("job:1", MessageKind.CARD, "#a", "approve me")))
    box.run()
    assert client.texts() == ["approve me"]
    assert delay(delivered(box, queued[0])) == 0.0  # queued at 3 s, sent at 3 s: the put woke the sender


def test_a_retry_goes_when_it_is_due_not_at_the_next_idle_poll() -> None:
    box, wake, client = sender(60.0)
    client.fail["#a"] = [slack_error("internal_error", status=500)]
    queued: list[int] = []
    wake.at(1.0, lambda: queued.append(box.post("job:1", MessageKind.CARD, "#a", "approve me")))
    box.run()
    assert client.texts() == ["approve me", "approve me"]  # refused with a 500, then sent
    assert 0.5 <= delay(delivered(box, queued[0])) < 1.0  # the first backoff is 0.5 s; the idle poll is 15 s


def test_a_write_another_replica_queued_and_never_sent_goes_by_the_idle_poll() -> None:
    table = CountingTable()
    box, wake, client = sender(60.0, table)
    elsewhere = SlackOutbox(table, ScriptedClient(), box.clock, start=False)  # its sender died before sending
    queued: list[int] = []
    wake.at(2.0, lambda: queued.append(elsewhere.post("job:1", MessageKind.CARD, "#a", "from the other replica")))
    box.run()
    assert client.texts() == ["from the other replica"]
    assert 0.0 < delay(delivered(box, queued[0])) <= IDLE_POLL_SECONDS  # heard of by no event: found by the poll


def test_a_write_a_killed_sender_held_goes_once_its_lease_ends() -> None:
    table = CountingTable()
    box, wake, client = sender(120.0, table)
    elsewhere = SlackOutbox(table, ScriptedClient(), box.clock, start=False)
    queued: list[int] = []

    def queued_and_claimed_by_a_sender_that_dies() -> None:
        queued.append(elsewhere.post("job:1", MessageKind.CARD, "#a", "held by the dead"))
        assert table.claim(queued[0], box.clock.now(), LEASE_SECONDS) is not None

    wake.at(1.0, queued_and_claimed_by_a_sender_that_dies)
    box.run()
    assert client.texts() == ["held by the dead"]
    assert LEASE_SECONDS <= delay(delivered(box, queued[0])) <= LEASE_SECONDS + IDLE_POLL_SECONDS


def test_the_next_write_of_a_key_goes_right_after_the_one_before_it() -> None:
    box, wake, client = sender(60.0)
    queued: list[int] = []

    def two_of_one_key() -> None:
        queued.append(box.post("job:1", MessageKind.CARD, "#a", "first"))
        queued.append(box.post("job:1", MessageKind.FINAL, "#a", "second"))

    wake.at(1.0, two_of_one_key)
    box.run()
    assert client.texts() == ["first", "second"]
    assert delay(delivered(box, queued[1])) < 1.0  # a head only once the first went: looked for at once, not idly


def test_after_a_restart_what_waited_goes_at_once_and_a_retry_due_later_by_the_idle_poll() -> None:
    table = CountingTable()
    box, _, client = sender(60.0, table)
    before = SlackOutbox(table, ScriptedClient(), box.clock, start=False)  # the process that was killed
    waiting = before.post("job:1", MessageKind.CARD, "#a", "queued before the kill")
    retried = before.post("job:2", MessageKind.CARD, "#b", "retried before the kill")
    claimed = table.claim(retried, box.clock.now(), LEASE_SECONDS)
    assert claimed is not None
    table.retry_later(retried, box.clock.now() + timedelta(seconds=5), "internal_error", unconfirmed=False)
    box.run()  # the restarted process's sender: it heard of neither write
    assert client.texts() == ["queued before the kill", "retried before the kill"]
    assert delay(delivered(box, waiting)) == 0.0  # the first look, at start
    assert 5.0 <= delay(delivered(box, retried)) <= 5.0 + IDLE_POLL_SECONDS
