"""/rds-status: answered in the ack itself (it reads only the job store, never AWS). `/rds-status dead-letters`
lists the Slack writes Slack refused for good; admins only, so it is checked (IAM) after the ack, in the slow lane."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.authz import Action, Forbidden
from bot.chat_outbox import dead_letter_report
from bot.commands import ChatCommands
from handlers.outbox import SlackOutbox
from handlers.restore import RESPONSE_URL_VALIDITY, email_lookup
from handlers.slow_lane import SlowLane

DEAD_LETTERS = "dead-letters"


def register_status(
    bolt: App, commands: ChatCommands, lane: SlowLane | None = None, outbox: SlackOutbox | None = None
) -> None:
    def status(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        if command.get("text", "").strip() == DEAD_LETTERS and lane is not None and outbox is not None:
            ack(response_type="ephemeral", text="Listing the Slack messages that could not be delivered…")
            lane.submit(f"/rds-status dead-letters by {command['user_id']}", dead_letters, command, client, outbox)
            return
        reply = commands.status(command.get("text", ""))
        ack(response_type="ephemeral", text=f"```{reply.text}```" if reply.ok else reply.text)

    def dead_letters(command: dict[str, Any], client: WebClient, outbox: SlackOutbox) -> None:
        user = command["user_id"]
        try:
            commands.decisions.authorizer.check(Action.READ_DEAD_LETTERS, user, email_lookup(client, user))
            text = f"```{dead_letter_report(outbox.repository)}```"
        except Forbidden as refused:
            text = f"Refused: {refused.reason}"
        expires = commands.clock.now() + RESPONSE_URL_VALIDITY
        outbox.respond(f"user:{user}", str(command.get("response_url") or ""), expires, user, text)

    bolt.command("/rds-status")(status)
