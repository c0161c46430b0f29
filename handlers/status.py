"""/rds-status: acked at once, answered from the slow lane through the response_url.

It reads only the job store, never AWS, but that read (about 10 ms of CPU for a store with some history) inside the
ack put a burst's acks behind it: p99 3.4-4.7x a bare Bolt app at 20 concurrent (bench/ack_latency.py). The ack
now does no I/O. Requests for the same status that queue while the lane is busy share one read, made after all of
them arrived: twenty people asking at once cost one store read, not twenty, in the process that also acks.
"""

from __future__ import annotations

import threading
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.commands import ChatCommands
from bot.slack_text import mrkdwn
from handlers.slow_lane import SlowLane


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


def register_status(bolt: App, commands: ChatCommands, lane: SlowLane) -> None:
    waiting = _Waiting()

    def ack_status(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        # No text in the ack: the answer follows within a moment, and Slack shows nothing for an empty ack.
        ack()
        text = command.get("text", "").strip()
        if waiting.add(text, respond):
            lane.submit(f"/rds-status by {command['user_id']}", answer_status, text)

    def answer_status(text: str) -> None:
        responders = waiting.take(text)  # before the read: each answer is read after its request arrived
        reply = commands.status(text)
        shown = mrkdwn("```{}```", reply.text) if reply.ok else reply.text
        for respond in responders:
            respond(response_type="ephemeral", replace_original=False, text=shown)

    bolt.command("/rds-status")(ack_status)
