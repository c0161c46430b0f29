"""The durable Slack outbox across a real SIGKILL: `rdsbot serve` as a process (file SQLite store, the fake Slack,
moto on loopback) is killed with the progress message's post in flight (Slack has it, its answer held) and the rest of
the job's thread queued behind it (Slack switched to HTTP 500). A restart on the same store delivers each message
once: the held post is found by its metadata (conversations.replies), not posted again.

Deterministic without sleeps: every write of a job shares one outbox key and the sender is one thread, so while the
fake holds the progress post's answer nothing else of the job can go out; Slack is down before the hold could end;
each step waits on what the store or the fake shows, to a deadline."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aws.clients import AwsClients
from bot.blocks import APPROVE_ACTION
from bot.chat_outbox import MARKER_EVENT
from bot.domain import JobStatus
from bot.store import SqlStore
from handlers.server import EVENTS_PATH
from handlers.slack_notifier import finish_ref
from tests.scenario import served_bot as served
from tests.scenario.conftest import ALICE, BOB
from tests.scenario.served_bot import ServiceEnv
from tests.support.fake_slack import FakeSlackApi, RecordedCall
from tests.support.slack_requests import block_action, post, slash_command
from tests.support.waiting import eventually

# The outbox's lease on a claimed write is 30 s (handlers/outbox.py LEASE_SECONDS): a write claimed by the killed
# process waits that long before the restarted one may try it, so the deadline is longer.
DELIVERY_DEADLINE = 120.0
QUEUED = 4  # the job's writes waiting at the kill: the held progress post, its edit, the final message, the card


@pytest.fixture
def service_env(aws: AwsClients, tmp_path: Path) -> Iterator[ServiceEnv]:
    with served.service_environment(tmp_path, restore_seconds=1.0) as env:
        yield env


def outbox_uid(message: dict[str, Any]) -> str:
    metadata = message.get("metadata") or {}
    assert metadata.get("event_type") == MARKER_EVENT, message  # every post of rdsbot carries its outbox uid
    return str(metadata["event_payload"]["outbox_uid"])


def kept_posts(slack: FakeSlackApi) -> list[RecordedCall]:
    """chat.postMessage calls that took effect (answered, or answer held): Slack down keeps nothing."""
    return [c for c in slack.calls("chat.postMessage") if c.status == 200]


def request_restore(url: str, slack: FakeSlackApi, store: SqlStore) -> tuple[str, str, str]:
    """Alice asks for a restore; (job id, channel, card ts) once its card is in Slack and its thread recorded."""
    request = slash_command(
        "/rds-restore", "prod-backup.bak db.m5.large", user_id=ALICE, response_url=slack.response_url("r1")
    )
    assert post(url + EVENTS_PATH, request.body, request.headers)[0] == 200
    card = slack.wait_for("chat.postMessage", lambda c: c.field("blocks") is not None, timeout=30)
    job_id = next(e["value"] for b in card.field("blocks") if b["type"] == "actions" for e in b["elements"])
    return (job_id, *served.wait_job_thread(store, job_id))


def approve(url: str, slack: FakeSlackApi, job_id: str, channel: str, card_ts: str) -> None:
    """Bob clicks Approve on the card."""
    click = block_action(APPROVE_ACTION, job_id, BOB, channel, card_ts, response_url=slack.response_url("click"))
    assert post(url + EVENTS_PATH, click.body, click.headers)[0] == 200


def test_sigkill_with_slack_writes_in_flight_and_queued_then_a_restart_delivers_each_message_once(
    service_env: ServiceEnv,
) -> None:
    env, slack, store = service_env
    port = served.free_port()
    with served.serving(env, port) as first:
        url = f"http://127.0.0.1:{port}"
        job_id, channel, card_ts = request_restore(url, slack, store)

        slack.hold_next_answer("chat.postMessage")  # the next post is the progress message, in the card's thread
        approve(url, slack, job_id, channel, card_ts)
        slack.wait_for("chat.postMessage", lambda c: c.body.get("thread_ts") == card_ts, timeout=30)
        slack.down = True  # the sender is blocked in the held call: nothing else of the job has gone out
        served.wait_job(store, job_id, "succeeded", lambda j: j.status == JobStatus.SUCCEEDED)
        # Waiting: the progress post (claimed, unconfirmed), its last edit (interim ones fold into it), the final
        # message and the card's update, queued in that order after the job is saved as succeeded. Kill only once
        # all four are in the store: a kill between the save and the queueing is the next test's.
        eventually(lambda: store.slack_outbox.depth() >= QUEUED, 30, "the job's thread queued behind the held post")

        first.send_signal(signal.SIGKILL)
        assert first.wait(30) == -signal.SIGKILL
        served.read_all(first)
    queued_at_kill = store.slack_outbox.depth()
    assert queued_at_kill == QUEUED
    slack.release_held()  # to a process that is gone
    slack.down = False

    with served.serving(env, served.free_port()):
        eventually(lambda: store.slack_outbox.depth() == 0, DELIVERY_DEADLINE, "the restart delivered what waited")

    thread = slack.thread(channel, card_ts)
    texts = [str(m.get("text")) for m in thread]
    assert len(texts) == 3, texts  # the card, the progress message, the completion: once each
    assert "✅ Restored" in texts[0] and "✓ finalize" in texts[1] and texts[2].startswith(f"<@{ALICE}>")
    assert "✅ Restored" in str(thread[0]["blocks"])
    uids = [outbox_uid(m) for m in thread]
    assert len(set(uids)) == 3
    sent = Counter(outbox_uid({"metadata": c.field("metadata")}) for c in kept_posts(slack))
    assert all(sent[uid] == 1 for uid in uids), sent  # none posted twice, the held one included
    cards = [c for c in kept_posts(slack) if c.field("blocks") is not None]
    assert len(cards) == 1
    assert slack.delivered("conversations.replies")  # how the restarted bot knew the progress post was there
    assert store.slack_outbox.dead_letter_count() == 0
    print(f"\nSIGKILL with {queued_at_kill} Slack writes waiting in the store; each delivered once after the restart")


def test_sigkill_after_the_finished_save_before_the_completion_is_queued_then_the_restart_announces_it_once(
    service_env: ServiceEnv,
) -> None:
    """The window the first test could not reach: the job is saved as succeeded and nothing of its completion is
    queued. RDSBOT_SANDBOX_HOLD_FINISH stops the engine thread right there (aws/sandbox/finish_hold.py), so the kill
    lands in it every time; the restart finds the job marked `finish_unannounced` and announces it, once."""
    env, slack, store = service_env
    port = served.free_port()
    with served.serving({**env, "RDSBOT_SANDBOX_HOLD_FINISH": "1"}, port) as first:
        url = f"http://127.0.0.1:{port}"
        job_id, channel, card_ts = request_restore(url, slack, store)
        approve(url, slack, job_id, channel, card_ts)
        served.wait_job(
            store,
            job_id,
            "saved as succeeded",
            lambda j: j.status == JobStatus.SUCCEEDED and j.engine.finish_unannounced,
        )
        first.send_signal(signal.SIGKILL)
        assert first.wait(30) == -signal.SIGKILL
        served.read_all(first)
    # Killed in the window: none of the completion's writes exist (before the fix, they never would).
    assert all(store.slack_outbox.by_ref(finish_ref(job_id, part)) is None for part in ("final", "progress", "card"))

    with served.serving(env, served.free_port()):
        served.wait_job(store, job_id, "announced", lambda j: not j.engine.finish_unannounced)
        eventually(lambda: store.slack_outbox.depth() == 0, DELIVERY_DEADLINE, "the restart delivered the completion")

    thread = slack.thread(channel, card_ts)
    texts = [str(m.get("text")) for m in thread]
    assert len(texts) == 3, texts  # the card, the progress message, the completion: once each
    assert "✅ Restored" in str(thread[0]["blocks"]) and "✓ finalize" in texts[1]
    assert texts[2].startswith(f"<@{ALICE}>") and "your restore is done" in texts[2]
    sent = Counter(outbox_uid({"metadata": c.field("metadata")}) for c in kept_posts(slack))
    assert all(sent[outbox_uid(m)] == 1 for m in thread), sent
    assert store.slack_outbox.dead_letter_count() == 0
