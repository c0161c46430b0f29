"""The fake Slack refuses Block Kit that Slack refuses (doc "Confirmation dialog object": plain_text title <= 100,
text <= 300, confirm and deny <= 30 characters, style primary or danger), with Slack's `invalid_blocks`; a lenient
fake would post these and the tests would not see a card Slack would never show."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.support.fake_slack import FakeSlackApi


@pytest.fixture
def fake_slack() -> Iterator[FakeSlackApi]:
    with FakeSlackApi() as fake:
        yield fake


def client(fake: FakeSlackApi) -> WebClient:
    return WebClient(token="xoxb-test-token", base_url=fake.base_url)


def card(**confirm_changes: Any) -> list[dict[str, Any]]:
    confirm: dict[str, Any] = {
        "title": {"type": "plain_text", "text": "Approve restore j1?"},
        "text": {"type": "plain_text", "text": "This creates rdsbot-x."},
        "confirm": {"type": "plain_text", "text": "Approve and create"},
        "deny": {"type": "plain_text", "text": "Not yet"},
        "style": "primary",
    }
    confirm.update(confirm_changes)
    button = {"type": "button", "action_id": "a", "value": "j1", "text": {"type": "plain_text", "text": "Approve"}}
    return [{"type": "actions", "elements": [{**button, "confirm": confirm}]}]


def test_a_card_with_a_valid_confirmation_dialog_is_posted(fake_slack: FakeSlackApi) -> None:
    posted = client(fake_slack).chat_postMessage(channel="C1", text="card", blocks=card())
    assert posted["ok"] and fake_slack.message("C1", posted["ts"])["blocks"] == card()


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"confirm": {"type": "plain_text", "text": "x" * 31}}, "must be less than 31 characters"),
        ({"deny": {"type": "plain_text", "text": "x" * 31}}, "must be less than 31 characters"),
        ({"title": {"type": "plain_text", "text": "x" * 101}}, "must be less than 101 characters"),
        ({"text": {"type": "plain_text", "text": "x" * 301}}, "must be less than 301 characters"),
        ({"text": {"type": "mrkdwn", "text": "*sure?*"}}, "must be a plain_text text object"),
        ({"deny": None}, "must be a plain_text text object"),
        ({"style": "warning"}, "must be one of primary, danger"),
    ],
)
def test_a_confirmation_dialog_slack_would_refuse_is_refused(fake_slack: FakeSlackApi, changes, error) -> None:
    with pytest.raises(SlackApiError) as refused:
        client(fake_slack).chat_postMessage(channel="C1", text="card", blocks=card(**changes))
    assert refused.value.response["error"] == "invalid_blocks"
    assert any(error in text for text in refused.value.response["errors"])


def test_an_update_to_a_card_slack_would_refuse_leaves_the_card_as_it_was(fake_slack: FakeSlackApi) -> None:
    posted = client(fake_slack).chat_postMessage(channel="C1", text="card", blocks=card())
    with pytest.raises(SlackApiError) as refused:
        client(fake_slack).chat_update(channel="C1", ts=posted["ts"], text="x", blocks=card(style="loud"))
    assert refused.value.response["error"] == "invalid_blocks"
    assert fake_slack.message("C1", posted["ts"])["blocks"] == card()
