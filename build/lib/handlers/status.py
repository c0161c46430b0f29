"""/rds-status: answered in the ack itself (it reads only the job store, never AWS)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.commands import ChatCommands


def register_status(bolt: App, commands: ChatCommands) -> None:
    def status(ack: Ack, command: dict[str, Any]) -> None:
        reply = commands.status(command.get("text", ""))
        ack(response_type="ephemeral", text=f"```{reply.text}```" if reply.ok else reply.text)

    bolt.command("/rds-status")(status)
