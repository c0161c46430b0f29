"""/rds-drill in Slack, and drill reports posted to their channel through the ordered outbox."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.chat_outbox import MessageKind
from bot.drills.chart import TrendChart
from bot.drills.commands import DrillCommands
from bot.slack_text import SlackText, mrkdwn
from handlers.outbox import SlackOutbox
from handlers.requester_reply import answer_after_ack
from handlers.slack_directory import email_lookup
from handlers.slow_lane import SlowLane
from handlers.workspace import OwnWorkspace


class SlackDrillReporter:
    """DrillReporter over Slack: the report as a channel message, the chart and follow-ups in its thread, all
    through the durable outbox under one key per run, so a report channel that is gone parks only that run's
    messages (dead letters) and delays no one else's. The chart goes to the channel id the report's
    chat.postMessage answered with: files_upload_v2 shares only to an id (files.completeUploadExternal)."""

    def __init__(self, outbox: SlackOutbox) -> None:
        self.outbox = outbox

    def report(
        self, channel: str, run_id: str, text: SlackText, *, failed: bool, chart: TrendChart | None = None
    ) -> None:
        key, ref = _key(run_id), _report_ref(run_id)
        self.outbox.post(key, MessageKind.DRILL_REPORT, channel, text, ref=ref)
        if chart is not None:
            filename = f"drill-{run_id}-trend.png"
            self.outbox.upload(key, channel, ref, chart.png, filename, chart.title, chart.alt_text)

    def follow_up(self, channel: str, run_id: str, text: SlackText) -> None:
        thread = _report_ref(run_id) if self.outbox.repository.by_ref(_report_ref(run_id)) else None
        # One follow-up per run (its cleanup): a runner restarted before saving the run done tells it again.
        ref = f"drill:{run_id}:follow-up"
        self.outbox.post(_key(run_id), MessageKind.DRILL_FOLLOW_UP, channel, text, ref=ref, thread_ref=thread)


def _key(run_id: str) -> str:
    return f"drill:{run_id}"


def _report_ref(run_id: str) -> str:
    return f"drill:{run_id}:report"


def register_drill(
    bolt: App, drill_commands: DrillCommands, lane: SlowLane, own: OwnWorkspace, outbox: SlackOutbox
) -> None:
    """Register /rds-drill; the drills themselves are started by `rdsbot serve`, not here. list, history and help
    read the store (runs, the scheduler's next run): an empty ack, the answer from the slow lane."""

    def drill(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        text = command.get("text", "")
        if drill_commands.is_run(text):
            name = " ".join(text.split()[1:2]) or "?"
            ack(response_type="ephemeral", text=mrkdwn("Starting drill {}…", name))
            # Authorization (IAM membership) and the backup lookup talk to AWS: after the ack, in the slow lane.
            lane.submit(f"/rds-drill run by {command['user_id']}", run_drill, command, respond, client)
            return
        answer_after_ack(ack, command, lane, outbox, drill_commands.clock, drill_commands.answer)

    def run_drill(command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        words = command.get("text", "").split()
        if len(words) != 2:
            usage = SlackText.escape("usage: /rds-drill run <name>")
            respond(response_type="ephemeral", replace_original=False, text=usage)
            return
        user = command["user_id"]
        reply = drill_commands.run(words[1], user, email_lookup(client, user, own))
        respond(response_type="ephemeral", replace_original=False, text=reply.text)

    bolt.command("/rds-drill")(drill)
