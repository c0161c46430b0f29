"""/rds-status: acked at once, answered from the slow lane through the response_url.

It reads only the job store, never AWS, but a store read under a burst of commands still queued acks behind it
(p99 3.4-4.7x a bare Bolt app at 20 concurrent, bench/ack_latency.py): the ack now does no I/O at all.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot.commands import ChatCommands
from bot.slack_text import mrkdwn
from handlers.slow_lane import SlowLane


def register_status(bolt: App, commands: ChatCommands, lane: SlowLane) -> None:
    def ack_status(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        # No text in the ack: the table follows within a moment, and Slack shows nothing for an empty ack.
        ack()
        lane.submit(f"/rds-status by {command['user_id']}", answer_status, command, respond)

    def answer_status(command: dict[str, Any], respond: Respond) -> None:
        reply = commands.status(command.get("text", ""))
        text = mrkdwn("```{}```", reply.text) if reply.ok else reply.text
        respond(response_type="ephemeral", replace_original=False, text=text)

    bolt.command("/rds-status")(ack_status)
