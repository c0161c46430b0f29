"""A fake Slack Web API on 127.0.0.1: records every call, answers like Slack, and fails on request.

Point slack_sdk at it with `WebClient(base_url=fake.base_url)` (or RDSBOT_SLACK_API_URL), put
`fake.response_url("id")` into slash-command payloads, then assert on `fake.calls(...)`.

As strict as Slack where rdsbot depends on it (each with a test in tests/scenario/test_fake_slack*.py):
- rate limits per method, and chat.postMessage per channel, with 429 + Retry-After (limits.py);
- channels: chat.postMessage answers with the channel's id, not the name it was given ("channel": "C..."), and a
  deleted channel (`#gone` from the start) answers `channel_not_found`, an archived one `is_archived`
  (https://docs.slack.dev/reference/methods/chat.postMessage, "Errors") (state.py, chat.py);
- message metadata is kept, and returned by conversations.history / conversations.replies only with
  `include_all_metadata` (https://docs.slack.dev/messaging/message-metadata) (chat.py);
- files shared only to a channel id, alt_txt at most 1000 characters (files.py);
- `down`: every request answered HTTP 500, nothing kept; `lose_next_answer`: the call takes effect, the answer is
  lost; `hold_next_answer`: the call takes effect, its answer waits for `release_held()` (a request in flight
  across a kill of the client) (http_surface.py).
Lenient still: any channel not deleted exists and the bot is in it.

The modules, by concern: calls (ids, the recorded call, body parsing), state (the workspace: users, groups,
channels, messages, views, files), chat / directory / files (the Web API methods), limits (rate limits),
http_surface (the server, dispatch, faults; FakeSlackApi). Import from this package, not from them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_slack.calls import (
    BOT_ID,
    BOT_USER_ID,
    DROPPED,
    FILE_UPLOAD,
    GONE_CHANNEL,
    RESPONSE_URL,
    RESPONSE_URL_USES,
    TEAM_DOMAIN,
    TEAM_ID,
    RecordedCall,
)
from tests.support.fake_slack.files import ALT_TXT_LIMIT, CHANNEL_ID
from tests.support.fake_slack.http_surface import FakeSlackApi
from tests.support.fake_slack.limits import RateLimits

__all__ = [
    "ALT_TXT_LIMIT",
    "BOT_ID",
    "BOT_USER_ID",
    "CHANNEL_ID",
    "DROPPED",
    "FILE_UPLOAD",
    "GONE_CHANNEL",
    "RESPONSE_URL",
    "RESPONSE_URL_USES",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "FakeSlackApi",
    "RateLimits",
    "RecordedCall",
    "fake_slack",
]


@pytest.fixture
def fake_slack() -> Iterator[FakeSlackApi]:
    """A fresh FakeSlackApi per test; import it into a conftest to use it by name."""
    with FakeSlackApi() as fake:
        yield fake
