"""/rds-doctor in Slack: admins only (bot/authz.py), acked at once, the checks run in the slow lane, the report
answered as ephemeral text. The checks only read: no AWS change, no Slack post besides this answer."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.doctor import DoctorCommand
from handlers.restore import email_lookup
from handlers.slow_lane import SlowLane


def register_doctor(bolt: App, doctor: DoctorCommand, lane: SlowLane) -> None:
    def ack_doctor(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack(response_type="ephemeral", text="Checking the account, the workspace and the policy…")
        # Authorization reads IAM and the checks read AWS and Slack: after the ack, in the slow lane.
        lane.submit(f"/rds-doctor by {command['user_id']}", run_doctor, command, respond, client)

    def run_doctor(command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        user = command["user_id"]
        text = doctor.answer(user, email_lookup(client, user))
        shown = text if text.startswith("Refused") else f"```{text}```"
        respond(response_type="ephemeral", replace_original=False, text=shown)

    bolt.command("/rds-doctor")(ack_doctor)
