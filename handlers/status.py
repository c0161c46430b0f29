"""/rds-status: acked at once, answered from the slow lane through the response_url.

It reads only the job store, never AWS, but that read (about 10 ms of CPU for a store with some history) inside the
ack put a burst's acks behind it: p99 3.4-4.7x a bare Bolt app at 20 concurrent (bench/ack_latency.py). The ack
now does no I/O. Requests for the same status that queue while the lane is busy share one read, made after all of
them arrived: twenty people asking at once cost one store read, not twenty, in the process that also acks.

`/rds-status dead-letters` lists the Slack writes Slack refused for good; admins only, so it is checked (IAM)
after the ack, in the slow lane, and answered through the durable outbox.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.authz import Action, Forbidden
from bot.chat_outbox import dead_letter_report
from bot.commands import ChatCommands
from bot.slack_text import mrkdwn
from handlers.outbox import SlackOutbox
from handlers.requester_reply import reply_to_requester
from handlers.slack_directory import email_lookup
from handlers.slow_lane import SlowLane
from handlers.workspace import OwnWorkspace

DEAD_LETTERS = "dead-letters"


class _Waiting:
    """Who waits for which status text; the first to wait schedules the read, the read answers them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_text: dict[str, list[Respond]] = {}

    def add(self, text: str, respond: Respond) -> bool:
        """Queue `respond`; True when no read of this text is pending yet (so one must be scheduled)."""
        with self._lock:
            waiting = self._by_text.setdefault(text, [])
            waiting.append(respond)
            return len(waiting) == 1

    def take(self, text: str) -> list[Respond]:
        """Everyone waiting for `text` now; later arrivals wait for the next read."""
        with self._lock:
            return self._by_text.pop(text, [])


def register_status(
    bolt: App,
    commands: ChatCommands,
    lane: SlowLane,
    outbox: SlackOutbox | None = None,
    own: OwnWorkspace | None = None,
) -> None:
    waiting = _Waiting()

    def ack_status(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        text = command.get("text", "").strip()
        if text == DEAD_LETTERS and outbox is not None and own is not None:
            ack(response_type="ephemeral", text="Listing the Slack messages that could not be delivered…")
            received = commands.clock.now()
            lane.submit(f"/rds-status dead-letters by {command['user_id']}", dead_letters, command, received, client)
            return
        # No text in the ack: the answer follows within a moment, and Slack shows nothing for an empty ack.
        ack()
        if waiting.add(text, respond):
            lane.submit(f"/rds-status by {command['user_id']}", answer_status, text)

    def answer_status(text: str) -> None:
        responders = waiting.take(text)  # before the read: each answer is read after its request arrived
        reply = commands.status(text)
        shown = mrkdwn("```{}```", reply.text) if reply.ok else reply.text
        for respond in responders:
            respond(response_type="ephemeral", replace_original=False, text=shown)

    def dead_letters(command: dict[str, Any], received: datetime, client: WebClient) -> None:
        assert outbox is not None and own is not None  # registered only with both
        user = command["user_id"]
        try:
            commands.decisions.authorizer.check(Action.READ_DEAD_LETTERS, user, email_lookup(client, user, own))
            text = mrkdwn("```{}```", dead_letter_report(outbox.repository))
        except Forbidden as refused:
            text = mrkdwn("Refused: {}", refused.reason)
        reply_to_requester(outbox, command, received, text)

    bolt.command("/rds-status")(ack_status)
