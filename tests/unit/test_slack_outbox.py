"""The Slack outbox's sender on an in-memory store and a scripted Web API client: order per key, pacing, Retry-After,
dead letters that block nobody, and a post whose answer was lost looked up before it is sent again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.chat_outbox import Delivery, MessageKind, Pacer, Verdict, verdict
from handlers.outbox import SlackOutbox
from tests.unit.fakes import FakeClock
from tests.unit.memory_store import InMemorySlackOutbox


def slack_error(error: str, status: int = 200, retry_after: int | None = None) -> SlackApiError:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.com/api/x",
        req_args={},
        data={"ok": False, "error": error},
        headers=headers,
        status_code=status,
    )
    return SlackApiError(error, response)


class ScriptedClient:
    """Answers like Slack; `fail[channel]` is a list of exceptions raised by the next posts there, in turn."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail: dict[str, list[Exception]] = {}
        self.lose_answer: set[str] = set()  # channels whose next post lands but raises as if the answer was lost
        self.posted: list[dict[str, Any]] = []

    def _failure(self, channel: str) -> Exception | None:
        waiting = self.fail.get(channel) or []
        return waiting.pop(0) if waiting else None

    def chat_postMessage(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("chat.postMessage", kwargs))
        failure = self._failure(kwargs["channel"])
        if failure is not None:
            raise failure
        message = {
            **kwargs,
            "ts": f"1.{len(self.posted) + 1:06d}",
            "channel": "C" + kwargs["channel"].strip("#").upper(),
        }
        self.posted.append(message)
        if kwargs["channel"] in self.lose_answer:
            self.lose_answer.discard(kwargs["channel"])
            raise ConnectionError("Remote end closed connection without response")
        return {"ok": True, "ts": message["ts"], "channel": message["channel"]}

    def chat_update(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("chat.update", kwargs))
        return {"ok": True}

    def conversations_history(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("conversations.history", kwargs))
        shown = [
            {k: v for k, v in m.items() if k != "metadata" or kwargs.get("include_all_metadata")} for m in self.posted
        ]
        return {"ok": True, "messages": shown}

    def conversations_list(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("conversations.list", kwargs))
        names = {c["channel"] for c in self.posted} | {k["channel"] for m, k in self.calls if m == "chat.postMessage"}
        return {"ok": True, "channels": [{"id": "C" + n.strip("#").upper(), "name": n.strip("#")} for n in names]}

    def texts(self, method: str = "chat.postMessage") -> list[str]:
        return [k["text"] for m, k in self.calls if m == method]

    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]


def outbox(client: ScriptedClient, clock: FakeClock, now: list[float] | None = None) -> SlackOutbox:
    mono = now if now is not None else [0.0]
    return SlackOutbox(InMemorySlackOutbox(), client, clock, Pacer(), monotonic=lambda: mono[0], start=False)


def test_one_key_goes_in_order_and_a_failing_head_holds_only_its_own_key():
    client, clock = ScriptedClient(), FakeClock()
    box = outbox(client, clock)
    client.fail["#a"] = [slack_error("internal_error", status=500)]
    first = box.post("job:1", MessageKind.CARD, "#a", "first of 1")
    box.post("job:1", MessageKind.FINAL, "#a", "second of 1")
    box.post("job:2", MessageKind.CARD, "#b", "only of 2")
    box.step()
    assert client.texts() == ["first of 1", "only of 2"]  # 1's second waits behind its head
    assert box.pending == 2
    clock.sleep(1)
    box.step()
    box.step()
    # A 500 may hide a success: Slack is asked first (the channel's id, then its history), then it is posted again.
    assert client.texts() == ["first of 1", "only of 2", "first of 1", "second of 1"]
    assert client.methods()[2:4] == ["conversations.list", "conversations.history"]
    assert box.repository.rows[first].attempts == 2  # type: ignore[attr-defined]


def test_a_permanent_error_parks_the_message_and_what_threads_under_it_without_calling_slack():
    client, clock = ScriptedClient(), FakeClock()
    box = outbox(client, clock)
    client.fail["#gone"] = [slack_error("channel_not_found")]
    parked: list[str] = []
    box.on_parked.append(lambda message, error: parked.append(f"{message.kind} {error}"))
    box.post("drill:1", MessageKind.DRILL_REPORT, "#gone", "report", ref="drill:1:report")
    box.post("drill:1", MessageKind.DRILL_FOLLOW_UP, "#gone", "cleaned up", thread_ref="drill:1:report")
    box.post("job:2", MessageKind.CARD, "#rds-approvals", "card")
    for _ in range(3):
        box.step()
    assert client.methods() == ["chat.postMessage", "chat.postMessage"]  # the report once, the card; no retry
    assert parked == [
        "drill_report channel_not_found",
        "drill_follow_up drill:1:report could not be posted: channel_not_found",
    ]
    assert box.repository.dead_letter_count() == 2 and box.pending == 0
    assert [d.kind for d in box.repository.dead_letters()] == [MessageKind.DRILL_FOLLOW_UP, MessageKind.DRILL_REPORT]


def test_a_429_pauses_its_channel_for_retry_after_while_other_channels_go_on():
    client, clock, mono = ScriptedClient(), FakeClock(), [0.0]
    box = outbox(client, clock, mono)
    client.fail["#a"] = [slack_error("ratelimited", status=429, retry_after=7)]
    held = box.post("k1", MessageKind.CARD, "#a", "paused")
    box.post("k2", MessageKind.CARD, "#a", "same channel")
    box.post("k3", MessageKind.CARD, "#b", "other channel")
    box.step()
    assert [k["text"] for _, k in client.calls] == ["paused", "other channel"]
    assert box.repository.rows[held].not_before == clock.now() + timedelta(seconds=7)  # type: ignore[attr-defined]
    mono[0] += 6.9
    clock.sleep(6.9)
    box.step()
    assert len(client.calls) == 2  # Retry-After not over yet: nothing more in #a
    mono[0] += 0.2
    clock.sleep(0.2)
    box.step()
    assert [k["text"] for _, k in client.calls][2:] == ["paused", "same channel"]


def test_posts_in_one_channel_are_paced_to_bursts_of_three_then_one_a_second():
    client, clock, mono = ScriptedClient(), FakeClock(), [0.0]
    box = outbox(client, clock, mono)
    for n in range(6):
        box.post(f"job:{n}", MessageKind.CARD, "#busy", f"card {n}")
    box.step()
    assert len(client.calls) == 3
    mono[0] += 0.5
    box.step()
    assert len(client.calls) == 3
    mono[0] += 0.5
    box.step()
    assert len(client.calls) == 4
    assert [k["text"] for _, k in client.calls] == [f"card {n}" for n in range(4)]


def test_a_post_whose_answer_was_lost_is_found_in_slack_and_not_posted_twice():
    client, clock = ScriptedClient(), FakeClock()
    box = outbox(client, clock)
    client.lose_answer.add("#a")
    card = box.post("job:1", MessageKind.CARD, "#a", "card", ref="card:1")
    box.post("job:0", MessageKind.CARD, "#a", "an earlier card, delivered: its id names the channel")
    box.step()
    row = box.repository.rows[card]  # type: ignore[attr-defined]
    assert row.state == Delivery.PENDING and row.unconfirmed
    clock.sleep(2)
    box.step()
    assert client.methods() == ["chat.postMessage", "chat.postMessage", "conversations.history"]
    history = client.calls[-1][1]
    assert history["channel"] == "CA" and history["include_all_metadata"] is True
    row = box.repository.rows[card]  # type: ignore[attr-defined]
    assert row.state == Delivery.DELIVERED and row.ts == "1.000001" and not row.unconfirmed


def test_an_unconfirmed_post_slack_does_not_have_is_posted_again():
    client, clock = ScriptedClient(), FakeClock()
    box = outbox(client, clock)
    box.post("job:0", MessageKind.CARD, "#a", "delivered first")
    box.step()
    client.fail["#a"] = [ConnectionError("reset")]
    card = box.post("job:1", MessageKind.CARD, "#a", "card")
    box.step()
    clock.sleep(2)
    box.step()
    assert client.methods() == ["chat.postMessage", "chat.postMessage", "conversations.history", "chat.postMessage"]
    assert box.repository.rows[card].state == Delivery.DELIVERED  # type: ignore[attr-defined]


def test_an_edit_folds_into_the_unsent_post_and_a_second_edit_into_the_first():
    client, clock, mono = ScriptedClient(), FakeClock(), [0.0]
    box = outbox(client, clock, mono)
    for n in range(3):  # fill #a's burst so the progress post must wait
        box.post(f"other:{n}", MessageKind.CARD, "#a", f"other {n}")
    box.step()
    box.post("job:1", MessageKind.PROGRESS, "#a", "0%", ref="progress:1")
    box.update("job:1", MessageKind.PROGRESS, "#a", "progress:1", "50%")
    box.update("job:1", MessageKind.PROGRESS, "#a", "progress:1", "100%")
    mono[0] += 1
    box.step()
    box.step()
    assert [k["text"] for m, k in client.calls][3:] == ["100%"] and box.pending == 0


def test_unknown_errors_are_retried_a_few_times_then_parked_and_app_errors_are_always_retried():
    assert [verdict("brand_new_error", n) for n in (1, 2, 3)] == [Verdict.RETRY, Verdict.RETRY, Verdict.PARK]
    assert verdict("token_revoked", 50) == Verdict.RETRY and verdict("is_archived", 1) == Verdict.PARK


def test_a_refused_connection_is_retried_without_looking_for_the_post():
    import urllib.error

    client, clock = ScriptedClient(), FakeClock()
    box = outbox(client, clock)
    client.fail["#a"] = [urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))]
    card = box.post("job:1", MessageKind.CARD, "#a", "card")
    box.step()
    assert not box.repository.rows[card].unconfirmed  # type: ignore[attr-defined]
    clock.sleep(1)
    box.step()
    assert client.methods() == ["chat.postMessage", "chat.postMessage"]
