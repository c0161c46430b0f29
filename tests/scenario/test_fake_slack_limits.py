"""The fake Slack is as strict as Slack where rdsbot depends on it; each test would pass against the lenient fake
it replaced only if the behaviour were missing. Docs: https://docs.slack.dev/apis/web-api/rate-limits (limits),
https://docs.slack.dev/reference/methods/chat.postMessage (errors, the channel id in the answer),
https://docs.slack.dev/messaging/message-metadata (metadata returned only when asked for)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from tests.support.fake_slack import DROPPED, FakeSlackApi

TOKEN = "xoxb-test-token"


@pytest.fixture
def fake() -> Iterator[FakeSlackApi]:
    with FakeSlackApi() as fake:
        # The channels these tests post to exist; a name no channel has answers channel_not_found, as in Slack.
        for name in ("busy", "quiet", "a", "rds-approvals", "old"):
            fake.add_channel(name)
        yield fake


def web(fake: FakeSlackApi) -> WebClient:
    return WebClient(token=TOKEN, base_url=fake.base_url, retry_handlers=[])


def statuses(fake: FakeSlackApi, method: str) -> list[int]:
    return [c.status for c in fake.calls(method)]


def test_rate_limits_post_message_to_a_burst_of_three_per_channel_with_429_and_retry_after(fake: FakeSlackApi) -> None:
    for n in range(3):
        web(fake).chat_postMessage(channel="#busy", text=f"ok {n}")
    with pytest.raises(SlackApiError) as limited:
        web(fake).chat_postMessage(channel="#busy", text="one too many")
    web(fake).chat_postMessage(channel="#quiet", text="another channel has its own budget")

    assert limited.value.response.status_code == 429 and limited.value.response["error"] == "ratelimited"
    assert limited.value.response.headers["Retry-After"] == "1"
    assert statuses(fake, "chat.postMessage") == [200, 200, 200, 429, 200]


def test_rate_limits_tier_methods_per_workspace(fake: FakeSlackApi) -> None:
    posted = web(fake).chat_postMessage(channel="#a", text="x")
    for _ in range(50):  # chat.update is Tier 3: 50 per minute, whatever the channel
        web(fake).chat_update(channel=posted["channel"], ts=posted["ts"], text="again")
    with pytest.raises(SlackApiError) as limited:
        web(fake).chat_update(channel=posted["channel"], ts=posted["ts"], text="51st")
    assert limited.value.response.status_code == 429 and int(limited.value.response.headers["Retry-After"]) >= 1


def test_a_post_answers_the_channel_id_and_a_deleted_or_archived_channel_refuses(fake: FakeSlackApi) -> None:
    posted = web(fake).chat_postMessage(channel="#rds-approvals", text="card")
    assert posted["channel"] == fake.channel_id("#rds-approvals") and posted["channel"].startswith("C")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        web(fake).chat_postMessage(channel="#gone", text="nobody reads this")
    fake.archive_channel("#old")
    with pytest.raises(SlackApiError, match="is_archived"):
        web(fake).chat_postMessage(channel="#old", text="too late")
    fake.delete_channel("#rds-approvals")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        web(fake).chat_postMessage(channel="#rds-approvals", text="after the delete")


def test_down_answers_500_to_everything_and_keeps_nothing(fake: FakeSlackApi) -> None:
    fake.down = True
    with pytest.raises(SlackApiError):
        web(fake).chat_postMessage(channel="#a", text="lost")
    assert WebhookClient(fake.response_url("r1")).send(text="lost too").status_code == 500
    fake.down = False
    posted = web(fake).chat_postMessage(channel="#a", text="back")
    history = web(fake).conversations_history(channel=posted["channel"])
    assert [m["text"] for m in history["messages"]] == ["back"] and statuses(fake, "chat.postMessage") == [500, 200]


def test_a_lost_answer_still_posts_and_history_shows_metadata_only_when_asked(fake: FakeSlackApi) -> None:
    fake.lose_next_answer("chat.postMessage")
    marker = {"event_type": "rdsbot_outbox", "event_payload": {"outbox_uid": "u1"}}
    with pytest.raises(Exception):  # noqa: B017 - the client sees a closed connection, whatever its type
        web(fake).chat_postMessage(channel="#a", text="did it land?", metadata=marker)
    channel = fake.channel_id("#a")

    plain = web(fake).conversations_history(channel=channel)["messages"]
    tagged = web(fake).conversations_history(channel=channel, include_all_metadata=True)["messages"]

    assert statuses(fake, "chat.postMessage") == [DROPPED]
    assert [m["text"] for m in plain] == ["did it land?"] and "metadata" not in plain[0]
    assert tagged[0]["metadata"] == marker


def test_history_and_replies_want_an_id_and_replies_list_the_thread_in_order(fake: FakeSlackApi) -> None:
    parent = web(fake).chat_postMessage(channel="#a", text="card")
    web(fake).chat_postMessage(channel="#a", text="reply", thread_ts=parent["ts"])
    with pytest.raises(SlackApiError, match="channel_not_found"):
        web(fake).conversations_history(channel="#a")
    replies = web(fake).conversations_replies(channel=parent["channel"], ts=parent["ts"])["messages"]
    history = web(fake).conversations_history(channel=parent["channel"])["messages"]
    assert [m["text"] for m in replies] == ["card", "reply"] and [m["text"] for m in history] == ["card"]


def test_a_held_answer_has_taken_effect_and_arrives_only_when_released(fake: FakeSlackApi) -> None:
    fake.hold_next_answer("chat.postMessage")
    answers: list[Any] = []
    client = threading.Thread(target=lambda: answers.append(web(fake).chat_postMessage(channel="#a", text="slow")))
    client.start()
    fake.wait_for("chat.postMessage")  # recorded, and kept in the channel, before any answer went back
    history = web(fake).conversations_history(channel=fake.channel_id("#a"))["messages"]
    assert [m["text"] for m in history] == ["slow"] and answers == []  # nothing answered until released
    assert web(fake).chat_postMessage(channel="#a", text="next")["ok"]  # only the next call was held
    fake.release_held()
    client.join(10)
    assert not client.is_alive() and answers[0]["ts"] == history[0]["ts"]
