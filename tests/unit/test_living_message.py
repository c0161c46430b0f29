"""One living message per restore: a successful restore costs at most 6 Web API calls whatever its duration, the
progress message is edited in place, the final message mentions the requester, the card follows the job."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.chat_outbox import MessageKind, OutboxMessage, Pacer
from bot.domain import Job, JobStatus, StageStatus
from bot.slack_text import SlackText
from handlers.outbox import SlackOutbox
from handlers.slack_notifier import SlackNotifier, card_ref
from tests.support.factories import make_plan
from tests.unit.fakes import FakeClock, MemoryChatThreads
from tests.unit.memory_store import InMemorySlackOutbox
from tests.unit.test_slack_outbox import ScriptedClient, outbox

SOON = datetime(2024, 11, 25, 11, 0, tzinfo=UTC)  # the card's deadline; its value plays no part here


def new_job() -> Job:
    return Job(
        id="j1", requester="U0ALICE", plan=make_plan("rdsbot-prod-j1"), created_at=datetime(2026, 1, 1, tzinfo=UTC)
    )


def run_restore(notifier: SlackNotifier, job: Job, polls: int, deliver) -> Job:
    """Walk the job through every stage, `polls` progress polls while restoring, delivering between events."""
    job.status, job.started_at = JobStatus.RUNNING, datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    for stage in job.stages:
        stage.status, stage.started_at = StageStatus.RUNNING, job.started_at
        notifier.stage_changed(job, stage)
        deliver()
        if stage.name == "restore_wait":
            for n in range(polls):
                job.percent_complete = 100 * n // polls
                notifier.progress(job, job.percent_complete)
                deliver()
        stage.status, stage.finished_at = StageStatus.SUCCEEDED, job.started_at + timedelta(seconds=5)
        notifier.stage_changed(job, stage)
        deliver()
    job.status, job.finished_at, job.percent_complete = JobStatus.SUCCEEDED, job.started_at + timedelta(hours=3), 100
    notifier.job_finished(job)
    return job


@pytest.mark.parametrize("polls", [0, 5, 500])
def test_a_successful_restore_costs_at_most_six_calls_however_long_it_polls(polls: int):
    client, clock, mono = ScriptedClient(), FakeClock(), [0.0]
    box = outbox(client, clock, mono)
    notifier = SlackNotifier(box, MemoryChatThreads(), monotonic=lambda: mono[0])
    job = new_job()

    def deliver() -> None:
        mono[0] += 2.0  # two seconds between engine events: every pace allows a call
        clock.sleep(2.0)
        box.step()

    notifier.post_card(job, "#rds-approvals", SOON, None, None)
    deliver()
    notifier.card_decided(job, "#rds-approvals", SlackText("✅ Approved by <@U0BOB>"))
    run_restore(notifier, job, polls, deliver)
    for _ in range(5):
        deliver()
    assert box.pending == 0
    assert len(client.calls) <= 6, (polls, client.methods())
    progress = [k for m, k in client.calls if m == "chat.postMessage" and "restoring" in k["text"]]
    assert len(progress) == 1 and progress[0]["thread_ts"] == "1.000001"
    edits = [k for m, k in client.calls if m == "chat.update" and k["ts"] == progress[0].get("ts", "1.000002")]
    assert "✓ finalize" in edits[-1]["text"] and "100%" in edits[-1]["text"]
    final = client.calls[-2][1] if client.calls[-1][0] == "chat.update" else client.calls[-1][1]
    assert any(k["text"].startswith("<@U0ALICE> your restore is done") for _, k in client.calls), client.calls
    card_updates = [k for m, k in client.calls if m == "chat.update" and k["ts"] == "1.000001"]
    assert "✅ Restored" in str(card_updates[-1]["blocks"]) and final


def test_a_progress_message_not_yet_sent_takes_the_newest_content_for_free():
    client, clock, mono = ScriptedClient(), FakeClock(), [0.0]
    box = outbox(client, clock, mono)
    notifier = SlackNotifier(box, MemoryChatThreads(), monotonic=lambda: mono[0])
    job = new_job()
    notifier.post_card(job, "#rds-approvals", SOON, None, None)
    box.step()
    job.status = JobStatus.RUNNING
    job.stages[0].status = StageStatus.RUNNING
    notifier.stage_changed(job, job.stages[0])  # queued, not sent: no step in between
    job.stages[0].status = StageStatus.SUCCEEDED
    notifier.stage_changed(job, job.stages[0])
    box.step()
    posts = [k["text"] for m, k in client.calls if m == "chat.postMessage"]
    assert len(posts) == 2 and "✓ validate" in posts[1] and not box.repository.heads(clock.now())


def test_with_an_edit_budget_interim_edits_are_at_most_one_per_interval():
    client, clock, mono = ScriptedClient(), FakeClock(), [0.0]
    box = outbox(client, clock, mono)
    notifier = SlackNotifier(
        box, MemoryChatThreads(), edit_seconds=5.0, interim_edit_budget=2, monotonic=lambda: mono[0]
    )
    job = new_job()
    notifier.post_card(job, "#rds-approvals", SOON, None, None)
    box.step()
    job.stages[6].status = StageStatus.RUNNING  # restore_wait: the bar shows
    notifier.progress(job, 1)
    box.step()
    for percent in range(2, 40):
        mono[0] += 1.0
        clock.sleep(1.0)
        job.percent_complete = percent
        notifier.progress(job, percent)
        box.step()
    edits = [k for m, k in client.calls if m == "chat.update"]
    assert len(edits) == 2  # the budget, though 38 polls changed the bar
    shown = [int(re.search(r"(\d+)%", e["text"]).group(1)) for e in edits]  # type: ignore[union-attr]
    assert shown[1] - shown[0] >= 5  # one poll a second, so never two edits within 5 s


def test_a_card_slack_refuses_is_told_to_the_requester_and_listed_in_status():
    from bot.chat_outbox import undelivered_note
    from tests.unit.test_slack_outbox import slack_error

    client, clock = ScriptedClient(), FakeClock()
    box = outbox(client, clock)
    client.fail["#gone"] = [slack_error("channel_not_found")]
    notifier = SlackNotifier(box, MemoryChatThreads())
    expires = clock.now() - timedelta(minutes=1)  # the response_url is no longer valid: a DM instead
    notifier.post_card(new_job(), "#gone", SOON, "https://hooks.example/x", expires)
    box.step()
    box.step()
    assert box.repository.by_ref(card_ref("j1")).state == "dead"  # type: ignore[union-attr]
    dm = client.calls[-1][1]
    assert dm["channel"] == "U0ALICE" and "could not be shown to the approvers" in dm["text"]
    assert "channel_not_found" in dm["text"] and "#gone" in dm["text"]
    note = undelivered_note(box.repository) or ""
    assert "j1: approval card not posted to #gone (channel_not_found); nobody can approve it" in note
    assert box.repository.dead_letters()[0].kind == MessageKind.CARD


class CountingOutboxTable(InMemorySlackOutbox):
    """The outbox table, counting the revise_unsent write transactions and the reads by ref it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.revisions = self.reads = 0

    def by_ref(self, ref: str) -> OutboxMessage | None:
        self.reads += 1
        return super().by_ref(ref)

    def revise_unsent(self, target_ref: str, text: str, blocks: list[dict[str, Any]] | None = None) -> bool:
        self.revisions += 1
        return super().revise_unsent(target_ref, text, blocks)


def test_with_no_edit_budget_a_sent_progress_message_costs_the_store_nothing_per_progress_tick():
    client, clock, mono = ScriptedClient(), FakeClock(), [0.0]
    table = CountingOutboxTable()
    box = SlackOutbox(table, client, clock, Pacer(), monotonic=lambda: mono[0], start=False)
    notifier = SlackNotifier(box, MemoryChatThreads(), monotonic=lambda: mono[0])  # the default budget: 0
    job = new_job()
    notifier.post_card(job, "#rds-approvals", SOON, None, None)
    box.step()
    job.status, job.stages[6].status = JobStatus.RUNNING, StageStatus.RUNNING  # restore_wait: the bar shows
    notifier.progress(job, 1)  # queues the progress message
    job.percent_complete = 2
    notifier.progress(job, 2)  # not sent yet: its content is revised, once
    assert table.revisions == 1
    mono[0] += 2.0
    box.step()
    job.percent_complete = 3
    notifier.progress(job, 3)  # reads that the post went: settled
    reads = table.reads
    for percent in range(4, 60):
        job.percent_complete = percent
        notifier.progress(job, percent)
    assert table.revisions == 1  # after the post went, a revision could only be refused: none asked for
    assert table.reads == reads  # nor a read of the card or the post: nothing a tick could change
    posts = [k["text"] for m, k in client.calls if m == "chat.postMessage" and "%" in k["text"]]
    assert len(posts) == 1 and "2%" in posts[0]  # the revision before the send still counted
    assert [m for m, _ in client.calls].count("chat.update") == 0  # and no interim edit
