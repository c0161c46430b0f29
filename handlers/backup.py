"""/rds-backup: ack with only the pure part done (parse, policy), check the instance, database and destination in
the slow lane, then the same approval card, buttons, living message and outbox as a restore (handlers/restore.py
serves the buttons: they carry only the job id)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_bolt import Ack, App

from bot.backup_request import BackupRequest
from bot.commands import ChatCommands, Reply
from bot.slack_text import mrkdwn
from handlers.restore import answer_requester, ask_approval
from handlers.slack_notifier import SlackNotifier
from handlers.slow_lane import SlowLane


def register_backup(bolt: App, commands: ChatCommands, notifier: SlackNotifier, lane: SlowLane) -> None:
    def ack_backup(ack: Ack, command: dict[str, Any]) -> None:
        received = commands.clock.now()
        checked = commands.check_backup(command.get("text", ""), command["user_id"])
        if isinstance(checked, Reply):
            ack(response_type="ephemeral", text=checked.text)
            return
        lane.submit(f"/rds-backup by {command['user_id']}", submit_backup, checked, command, received)
        where = checked.destination or "the default destination"
        ack(
            response_type="ephemeral",
            text=mrkdwn("Checking {} on {} for a backup to {}…", checked.database_name, checked.instance_id, where),
        )

    def submit_backup(checked: BackupRequest, command: dict[str, Any], received: datetime) -> None:
        result = commands.submit_backup(checked, command["user_id"], command.get("text", ""))
        if isinstance(result, Reply):
            answer_requester(notifier, command, received, result.text)
            return
        ask_approval(commands, notifier, result, command, received)

    bolt.command("/rds-backup")(ack_backup)
