"""/rds-audit: answered in the ack itself (it reads only the job store, never AWS or S3)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.commands import ChatCommands


def register_audit(bolt: App, commands: ChatCommands) -> None:
    def audit(ack: Ack, command: dict[str, Any]) -> None:
        reply = commands.audit(command.get("text", ""))
        ack(response_type="ephemeral", text=f"```{reply.text}```" if reply.ok else reply.text)

    bolt.command("/rds-audit")(audit)
