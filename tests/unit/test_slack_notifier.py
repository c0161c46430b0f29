"""Progress in the thread costs a bounded number of Slack calls, and nothing is lost when Slack fails."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from bot.domain import Job
from handlers.outbox import SlackOutbox
from handlers.slack_notifier import SlackNotifier
from tests.support.factories import make_plan
from tests.unit.fakes import MemoryChatThreads


class RecordingClient:
    def __init__(self, failures: int = 0) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.failures = failures

    def chat_postMessage(self, **kwargs):
        if self.failures:
            self.failures -= 1
            raise ConnectionError("slack is down")
        self.calls.append(("chat.postMessage", kwargs))
        return {"ts": f"1.{len(self.calls)}", "channel": kwargs["channel"]}

    def chat_update(self, **kwargs):
        self.calls.append(("chat.update", kwargs))
        return {"ok": True}


def job(job_id: str = "j1") -> Job:
    plan = make_plan("rdsbot-prod-j1")
    return Job(
        id=job_id,
        requester="U1",
        plan=plan,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def threaded(job_id: str = "j1") -> MemoryChatThreads:
    """Threads where the job's approval card was posted in C1 at 0.1."""
    threads = MemoryChatThreads()
    threads.save(job_id, "slack", "C1", "0.1")
    return threads


def test_percent_updates_are_at_most_one_per_second_in_each_channel_and_channels_do_not_share_the_budget():
    client, now = RecordingClient(), [0.0]
    outbox = SlackOutbox()
    threads = threaded("j1")
    threads.save("j2", "slack", "C2", "0.2")  # another job, another channel
    threads.save("j3", "slack", "C1", "0.3")  # a third job in j1's channel: it shares C1's budget
    notifier = SlackNotifier(client, outbox, threads, min_update_seconds=1.0, monotonic=lambda: now[0])
    for percent in range(0, 100):  # 100 polls of each job within 9.9 s
        for job_id in ("j1", "j2", "j3"):
            notifier.progress(job(job_id), percent)
        now[0] += 0.1
    for job_id in ("j1", "j2"):
        notifier.job_finished(job(job_id).model_copy(update={"percent_complete": 100}))
    assert outbox.drain(5)
    updates = Counter(kwargs["channel"] for m, kwargs in client.calls if m == "chat.update")
    assert 9 <= updates["C2"] <= 11  # ~1/s over 9.9 s, plus the final 100%, however busy C1 is
    assert 9 <= updates["C1"] <= 12  # two jobs in C1 together stay near 1/s there, not 2/s
    posts = [(kwargs["channel"], kwargs.get("thread_ts")) for m, kwargs in client.calls if m == "chat.postMessage"]
    assert posts.count(("C2", "0.2")) == 2  # the progress message, then the completion
    assert posts.count(("C1", "0.1")) == 2
    final = [kwargs["text"] for m, kwargs in client.calls if m == "chat.update" and kwargs["channel"] == "C2"]
    assert "100%" in final[-1]


def test_a_message_slack_refuses_is_kept_and_delivered_in_order():
    client = RecordingClient(failures=3)
    outbox = SlackOutbox(backoff_seconds=0.01)
    notifier = SlackNotifier(client, outbox, MemoryChatThreads())
    notifier.post("C1", "0.1", "first", "first")
    notifier.post("C1", "0.1", "second", "second")
    assert outbox.drain(5)
    assert [kwargs["text"] for _, kwargs in client.calls] == ["first", "second"]
    assert outbox.pending == 0


def test_jobs_without_a_slack_thread_post_nothing():
    client = RecordingClient()
    outbox = SlackOutbox()
    notifier = SlackNotifier(client, outbox, threaded("j1"))
    quiet = job("j2")
    notifier.progress(quiet, 50)
    notifier.job_finished(quiet)
    assert outbox.drain(1) and client.calls == []
