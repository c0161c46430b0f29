"""Answering the person who typed a command, after the ack: through the durable outbox, by the command's
response_url while it is valid, else in a DM (handlers/outbox.py).

Commands that only read the job store (/rds-audit, /rds-drill list and history) answer this way too: the ack is
empty and reads nothing, the read runs in the slow lane. A read inside the ack puts every ack of a burst behind it
(/rds-status measured 3.4-4.7x a bare Bolt app's p99 at 20 concurrent, bench/ack_latency.py), and a store that
stalls would make Slack show the user a timeout for a command that did nothing wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import Ack

from bot.clock import Clock
from bot.commands import Reply
from bot.slack_text import SlackText, mrkdwn
from handlers.outbox import SlackOutbox
from handlers.slow_lane import SlowLane

# Slack: a response_url takes up to 5 answers within 30 minutes (https://docs.slack.dev/interactivity/handling-user-interaction).
RESPONSE_URL_VALIDITY = timedelta(minutes=30)


def reply_to_requester(
    outbox: SlackOutbox,
    command: dict[str, Any],
    received: datetime,
    text: SlackText,
    *,
    key: str | None = None,
    job_id: str | None = None,
) -> None:
    """Queue the answer to `command`'s author: its response_url until 30 minutes after `received`, then a DM.
    Answers under one `key` (by default the user's) arrive in the order they were queued."""
    user = command["user_id"]
    url = str(command.get("response_url") or "")
    expires, channel = received + RESPONSE_URL_VALIDITY, str(command.get("channel_id") or "")
    outbox.respond(key or f"user:{user}", url, expires, user, text, channel=channel, job_id=job_id)


def answer_after_ack(
    ack: Ack,
    command: dict[str, Any],
    lane: SlowLane,
    outbox: SlackOutbox,
    clock: Clock,
    read: Callable[[str], Reply],
) -> None:
    """Ack empty at once (Slack shows nothing for it), then run `read(text)` in the slow lane and send its reply,
    a table in a code block when it is one, an error as it is."""
    received = clock.now()
    ack()

    def answer() -> None:
        reply = read(command.get("text", ""))
        shown = mrkdwn("```{}```", reply.text) if reply.ok else reply.text
        reply_to_requester(outbox, command, received, shown)

    lane.submit(f"{command.get('command', 'command')} by {command['user_id']}", answer)
