"""/rds-drill in Slack, and drill reports posted to their channel through the ordered outbox."""

from __future__ import annotations

import logging
import threading
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.drills.chart import TrendChart
from bot.drills.commands import DrillCommands
from bot.slack_text import SlackText, mrkdwn
from handlers.outbox import SlackOutbox
from handlers.slack_directory import email_lookup
from handlers.slow_lane import SlowLane
from handlers.workspace import OwnWorkspace

log = logging.getLogger(__name__)


class SlackDrillReporter:
    """DrillReporter over Slack: the report as a channel message, the chart and follow-ups in its thread.

    The policy names report channels (`#rds-drills`); chat.postMessage takes a name, but files_upload_v2 shares
    only to a channel id (files.completeUploadExternal `channel_id`), so the chart and follow-ups go to the id
    chat.postMessage answered with, which it always gives as an id."""

    def __init__(self, client: Any, outbox: SlackOutbox) -> None:
        self.client = client
        self.outbox = outbox
        self._threads: dict[str, tuple[str, str]] = {}  # run id -> (channel id, ts) of its report
        self._lock = threading.Lock()

    def report(
        self, channel: str, run_id: str, text: SlackText, *, failed: bool, chart: TrendChart | None = None
    ) -> None:
        self.outbox.put(f"drill {run_id} report", lambda: self._post_report(channel, run_id, text))
        if chart is not None:
            self.outbox.put(f"drill {run_id} chart", lambda: self._upload_chart(run_id, chart))

    def follow_up(self, channel: str, run_id: str, text: SlackText) -> None:
        # The outbox is FIFO, so the report's ts is known by the time this is sent (unless a restart lost it).
        self.outbox.put(f"drill {run_id} follow-up", lambda: self._post_follow_up(channel, run_id, text))

    def _post_report(self, channel: str, run_id: str, text: SlackText) -> None:
        posted = self.client.chat_postMessage(channel=channel, text=text)
        with self._lock:
            self._threads[run_id] = (str(posted["channel"]), str(posted["ts"]))

    def _upload_chart(self, run_id: str, chart: TrendChart) -> None:
        with self._lock:
            thread = self._threads.get(run_id)
        if thread is None:  # the report was posted before a restart: no channel id to share to, and no thread
            log.warning("drill chart not uploaded: its report's channel id is unknown", extra={"run": run_id})
            return
        channel_id, thread_ts = thread
        self.client.files_upload_v2(
            channel=channel_id,
            thread_ts=thread_ts,
            content=chart.png,
            filename=f"drill-{run_id}-trend.png",
            title=chart.title,
            alt_txt=chart.alt_text,
        )

    def _post_follow_up(self, channel: str, run_id: str, text: SlackText) -> None:
        with self._lock:
            thread = self._threads.pop(run_id, None)
        channel_id, thread_ts = thread if thread else (channel, None)
        self.client.chat_postMessage(channel=channel_id, thread_ts=thread_ts, text=text)


def register_drill(bolt: App, drill_commands: DrillCommands, lane: SlowLane, own: OwnWorkspace) -> None:
    """Register /rds-drill; the drills themselves are started by `rdsbot serve`, not here."""

    def drill(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        text = command.get("text", "")
        if drill_commands.is_run(text):
            name = " ".join(text.split()[1:2]) or "?"
            ack(response_type="ephemeral", text=mrkdwn("Starting drill {}…", name))
            # Authorization (IAM membership) and the backup lookup talk to AWS: after the ack, in the slow lane.
            lane.submit(f"/rds-drill run by {command['user_id']}", run_drill, command, respond, client)
            return
        reply = drill_commands.answer(text)
        ack(response_type="ephemeral", text=mrkdwn("```{}```", reply.text) if reply.ok else reply.text)

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
