"""The Slack outbox table on a real SQLite file and a real PostgreSQL: heads per key, leases, folding edits, dead
letters, and what a second process finds after the first one died mid-send."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.chat_outbox import Delivery, MessageKind, NewMessage, OutboxPayload, SlackMethod
from bot.store import SqlStore

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    with SqlStore(database_url) as opened:
        yield opened


def post(key: str, text: str, channel: str = "#rds-approvals", **refs: str) -> NewMessage:
    return NewMessage(
        key=key,
        method=SlackMethod.POST,
        kind=MessageKind.PROGRESS,
        channel=channel,
        payload=OutboxPayload(text=text),
        **refs,
    )


def edit(key: str, target_ref: str, text: str) -> NewMessage:
    return NewMessage(
        key=key,
        method=SlackMethod.UPDATE,
        kind=MessageKind.PROGRESS,
        channel="#rds-approvals",
        payload=OutboxPayload(text=text),
        target_ref=target_ref,
    )


def test_heads_are_the_oldest_pending_of_each_key_due_and_unleased(store: SqlStore) -> None:
    box = store.slack_outbox
    a1 = box.enqueue(post("job:a", "a1"), T0)
    box.enqueue(post("job:a", "a2"), T0)
    b1 = box.enqueue(post("job:b", "b1"), T0)
    c1 = box.enqueue(post("job:c", "c1"), T0)
    box.retry_later(c1, T0 + timedelta(seconds=30), "ratelimited", unconfirmed=False)

    assert [m.payload.text for m in box.heads(T0)] == ["a1", "b1"]
    claimed = box.claim(a1, T0, lease_seconds=60)
    assert claimed is not None and claimed.attempts == 1 and not claimed.unconfirmed
    assert box.claim(a1, T0 + timedelta(seconds=1), lease_seconds=60) is None  # another sender holds it
    assert [m.payload.text for m in box.heads(T0 + timedelta(seconds=1))] == ["b1"]
    box.park(b1, "channel_not_found", T0)
    box.mark_delivered(a1, "1.000100", "C0APPROVALS", T0)

    assert [m.payload.text for m in box.heads(T0 + timedelta(seconds=31))] == ["a2", "c1"]
    assert box.depth() == 2 and box.dead_letter_count() == 1
    assert [(d.id, d.error) for d in box.dead_letters()] == [(b1, "channel_not_found")]
    assert box.channel_id("#rds-approvals") == "C0APPROVALS"


def test_a_post_claimed_by_a_process_that_died_is_unconfirmed_for_the_next_one(database_url: str) -> None:
    with SqlStore(database_url) as first:
        card = first.slack_outbox.enqueue(post("job:a", "card", ref="card:a"), T0)
        assert first.slack_outbox.claim(card, T0, lease_seconds=60) is not None
        # killed here: the request may have reached Slack, and nobody recorded the answer
    with SqlStore(database_url) as second:
        assert second.slack_outbox.heads(T0 + timedelta(seconds=30)) == []  # the dead process's lease still holds
        [head] = second.slack_outbox.heads(T0 + timedelta(seconds=61))
        again = second.slack_outbox.claim(head.id, T0 + timedelta(seconds=61), lease_seconds=60)
        assert again is not None and again.unconfirmed and again.attempts == 2
        assert again.first_attempt_at == T0 and again.uid == head.uid


def test_an_edit_folds_into_the_unsent_post_then_into_an_untried_edit_and_never_into_a_tried_one(
    store: SqlStore,
) -> None:
    box = store.slack_outbox
    progress = box.enqueue(post("job:a", "0%", ref="progress:a"), T0)
    assert box.enqueue(edit("job:a", "progress:a", "10%"), T0) == progress
    assert box.by_ref("progress:a").payload.text == "10%"  # type: ignore[union-attr]
    box.claim(progress, T0, 60)
    box.mark_delivered(progress, "1.1", "C0APPROVALS", T0)
    first_edit = box.enqueue(edit("job:a", "progress:a", "20%"), T0)
    assert box.enqueue(edit("job:a", "progress:a", "30%"), T0) == first_edit
    box.claim(first_edit, T0, 60)
    later_edit = box.enqueue(edit("job:a", "progress:a", "40%"), T0)
    assert later_edit != first_edit
    assert not box.revise_unsent("progress:b", "nothing to revise")
    assert box.revise_unsent("progress:a", "50%")
    texts = [m.payload.text for m in box.heads(T0 + timedelta(minutes=5))]
    assert texts == ["30%"]  # the tried edit is the head; the later one waits behind it with "50%"
    assert box.by_ref("progress:a").state == Delivery.DELIVERED  # type: ignore[union-attr]
