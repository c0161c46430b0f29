"""Issue 13 from outside: the real Bolt app in HTTP mode against a fake Slack that enforces ~1 chat.postMessage per
second per channel (bursts of 3), answers channel_not_found for #gone and can be switched off (HTTP 500).
How fast completions land after the last restore is a number, so it is measured in bench/slack_calls.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from aws.clients import AwsClients
from bot.blocks import APPROVE_ACTION
from bot.chat_outbox import Delivery
from bot.domain import JobStatus
from config.policy_model import EXAMPLE_POLICY
from handlers.slack_notifier import card_ref
from tests.scenario.conftest import ALICE, BOB, CAROL, Story, running_story
from tests.scenario.test_drill_story import drive_drills
from tests.support.fake_slack import RESPONSE_URL

WRITES = ("chat.postMessage", "chat.update")


def until(condition: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.05)


def restored(story: Story, job_id: str) -> None:
    until(lambda: story.job(job_id).status == JobStatus.SUCCEEDED, f"{job_id} succeeded", 120)


def settled(story: Story, job_id: str, timeout: float = 60) -> None:
    """The job's final message is in its thread, its card shows the outcome (queued after that message, so an
    empty outbox just after the final message is no proof) and nothing waits in the outbox."""

    def complete() -> bool:
        texts = thread_texts(story, job_id)
        return any(t.startswith("<@") for t in texts) and "✅ Restored" in texts[0]

    until(lambda: complete() and story.runtime.outbox.pending == 0, f"{job_id}'s thread complete", timeout)


def approved_and_restored(story: Story) -> str:
    """One /rds-restore by alice, approved by bob, restored, its thread complete; the job id."""
    story.command("/rds-restore", "prod-backup.bak db.m5.large", ALICE)
    _, job_id = story.wait_card()
    story.card_of(job_id)
    story.click(APPROVE_ACTION, job_id, BOB)
    restored(story, job_id)
    settled(story, job_id)
    return job_id


def thread_texts(story: Story, job_id: str) -> list[str]:
    channel, ts = story.card_of(job_id)
    return [str(m.get("text", "")) for m in story.slack.thread(channel, ts)]


def test_twenty_requests_at_once_in_one_channel_all_get_cards_and_all_finish(story: Story):
    requests = [
        threading.Thread(target=story.command, args=("/rds-restore", "prod-backup.bak db.m5.large", ALICE, f"r{n}"))
        for n in range(20)
    ]
    for request in requests:
        request.start()
    for request in requests:
        request.join()
    until(lambda: len(story.app.store.jobs.list_jobs()) == 20, "20 jobs recorded", 60)
    job_ids = [job.id for job in story.app.store.jobs.list_jobs()]
    for job_id in job_ids:  # paced at ~1/s in the approvals channel: every card arrives, none is dropped
        story.card_of(job_id, timeout=90)
        story.click(APPROVE_ACTION, job_id, BOB)
    for job_id in job_ids:
        restored(story, job_id)
    for job_id in job_ids:
        settled(story, job_id, timeout=120)

    for job_id in job_ids:
        card, progress, final = thread_texts(story, job_id)
        assert "✅ Restored" in card and "✓ finalize" in progress and final.startswith(f"<@{ALICE}> your restore")
    assert story.app.store.slack_outbox.dead_letter_count() == 0
    cards = [c for c in story.slack.delivered("chat.postMessage") if c.field("blocks")]
    assert len(cards) == 20 and len({c.body["text"] for c in cards}) == 20  # each card exactly once


def test_a_successful_restore_costs_at_most_six_web_api_calls(story: Story):
    job_id = approved_and_restored(story)
    writes = [c.method for c in story.slack.calls() if c.method in WRITES]
    assert len(writes) <= 6, writes  # the card, its two updates, the progress message, its final edit, the end
    assert len(thread_texts(story, job_id)) == 3


def test_slack_down_through_the_end_of_a_restore_and_a_crash_then_each_message_once_in_order(story: Story):
    story.command("/rds-restore", "prod-backup.bak db.m5.large", ALICE)
    _, job_id = story.wait_card()
    story.card_of(job_id)
    story.slack.lose_next_answer("chat.postMessage")  # the progress message lands; its answer never comes back
    story.click(APPROVE_ACTION, job_id, BOB)
    until(lambda: len(story.slack.calls("chat.postMessage")) >= 2, "the progress message was sent", 30)
    story.slack.down = True
    restored(story, job_id)
    waiting = story.app.store.slack_outbox.depth
    until(lambda: waiting() >= 3, "the progress edit, the final message and the card's update queued", 30)
    until(lambda: any(c.status == 500 for c in story.slack.calls()), "the outbox met the outage", 30)
    story.crash()
    assert waiting() >= 3  # all of it waits in the store, nothing in the dropped process

    story.slack.down = False
    restarted = story.restart()
    try:
        assert restarted.runtime.outbox.drain(90), "the restarted bot did not deliver what waited"
    finally:
        restarted.crash()
        restarted.app.close()

    channel, card_ts = story.card_of(job_id)
    thread = story.slack.thread(channel, card_ts)
    texts = [str(m.get("text")) for m in thread]
    assert len(texts) == 3, texts  # the progress message was found in Slack, not posted again
    assert "✅ Restored" in texts[0] and "✓ finalize" in texts[1] and texts[2].startswith(f"<@{ALICE}>")
    assert [float(m["ts"]) for m in thread] == sorted(float(m["ts"]) for m in thread)
    assert "✅ Restored" in str(thread[0]["blocks"])
    assert story.slack.delivered("conversations.replies")  # how the restarted bot knew


@pytest.fixture
def story_with_gone_drill(aws: AwsClients, tmp_path: Path) -> Iterator[Story]:
    """The example policy, its prod-nightly drill reporting to #gone (a channel that no longer exists)."""
    data = yaml.safe_load(EXAMPLE_POLICY.read_text())
    for drill in data["drills"]:
        drill["report_channel"] = "#gone"
    config = tmp_path / "policy.yaml"
    config.write_text(yaml.safe_dump(data))
    with running_story(tmp_path, config) as running:
        yield running


def test_a_drill_reporting_to_gone_delays_no_restore_and_is_listed_for_admins(story_with_gone_drill: Story):
    story = story_with_gone_drill
    story.command("/rds-drill", "run prod-nightly", ALICE, response_id="drill")
    story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == "drill", timeout=15)
    drive_drills(story)
    story.slack.wait_for(
        "chat.postMessage", lambda c: c.body.get("channel") == "#gone", timeout=15, include_failed=True
    )

    job_id = approved_and_restored(story)
    assert len(thread_texts(story, job_id)) == 3
    gone = [c for c in story.slack.calls("chat.postMessage") if c.body.get("channel") == "#gone"]
    assert len(gone) == 1  # parked at the first channel_not_found, never retried
    outbox = story.app.store.slack_outbox
    assert outbox.dead_letter_count() >= 1 and outbox.by_ref(card_ref(job_id)).state == Delivery.DELIVERED  # type: ignore[union-attr]

    assert "Slack message(s) could not be delivered" in story.status("", CAROL, "carol-status")
    story.command("/rds-status", "dead-letters", CAROL, response_id="carol")
    refused = story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == "carol", timeout=15)
    assert "Refused: only members of rds-admins may read dead letters" in refused.body["text"]
    story.command("/rds-status", "dead-letters", BOB, response_id="bob")
    listed = story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == "bob", timeout=15)
    assert "drill_report job - in #gone: channel_not_found" in listed.body["text"]
