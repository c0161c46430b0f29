"""/rds-audit: an empty ack at once; the store read runs in the slow lane and the trail (or today's decisions)
goes back through the response_url by the durable outbox (handlers/requester_reply.py says why)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.commands import ChatCommands
from handlers.outbox import SlackOutbox
from handlers.requester_reply import answer_after_ack
from handlers.slow_lane import SlowLane


def register_audit(bolt: App, commands: ChatCommands, lane: SlowLane, outbox: SlackOutbox) -> None:
    def ack_audit(ack: Ack, command: dict[str, Any]) -> None:
        answer_after_ack(ack, command, lane, outbox, commands.clock, commands.audit)

    bolt.command("/rds-audit")(ack_audit)
