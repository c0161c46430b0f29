"""/rds-drill in Slack, and drill reports posted to their channel through the ordered outbox."""

from __future__ import annotations

import threading
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.drills.commands import DrillCommands
from handlers.outbox import SlackOutbox
from handlers.restore import email_lookup
from handlers.slow_lane import SlowLane


class SlackDrillReporter:
    """DrillReporter over Slack: the report as a channel message, follow-ups in its thread."""

    def __init__(self, client: Any, outbox: SlackOutbox) -> None:
        self.client = client
        self.outbox = outbox
        self._threads: dict[str, str] = {}  # run id -> ts of its report
        self._lock = threading.Lock()

    def report(self, channel: str, run_id: str, text: str, *, failed: bool, chart: bytes | None = None) -> None:
        self.outbox.put(f"drill {run_id} report", lambda: self._post_report(channel, run_id, text))
        if chart is not None:
            self.outbox.put(f"drill {run_id} chart", lambda: self._upload_chart(channel, run_id, chart))

    def follow_up(self, channel: str, run_id: str, text: str) -> None:
        # The outbox is FIFO, so the report's ts is known by the time this is sent (unless a restart lost it).
        self.outbox.put(f"drill {run_id} follow-up", lambda: self._post_follow_up(channel, run_id, text))

    def _post_report(self, channel: str, run_id: str, text: str) -> None:
        posted = self.client.chat_postMessage(channel=channel, text=text)
        with self._lock:
            self._threads[run_id] = str(posted["ts"])

    def _upload_chart(self, channel: str, run_id: str, chart: bytes) -> None:
        with self._lock:
            thread_ts = self._threads.get(run_id)
        self.client.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts,
            content=chart,
            filename=f"drill-{run_id}-trend.png",
            title="time-to-restore, last runs (grey: RTO target)",
        )

    def _post_follow_up(self, channel: str, run_id: str, text: str) -> None:
        with self._lock:
            thread_ts = self._threads.pop(run_id, None)
        self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)


def register_drill(bolt: App, drill_commands: DrillCommands, lane: SlowLane) -> None:
    """Register /rds-drill; the drills themselves are started by `rdsbot serve`, not here."""

    def drill(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        text = command.get("text", "")
        if drill_commands.is_run(text):
            name = " ".join(text.split()[1:2]) or "?"
            ack(response_type="ephemeral", text=f"Starting drill {name}…")
            # Authorization (IAM membership) and the backup lookup talk to AWS: after the ack, in the slow lane.
            lane.submit(f"/rds-drill run by {command['user_id']}", run_drill, command, respond, client)
            return
        reply = drill_commands.answer(text)
        ack(response_type="ephemeral", text=f"```{reply.text}```" if reply.ok else reply.text)

    def run_drill(command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        words = command.get("text", "").split()
        if len(words) != 2:
            respond(response_type="ephemeral", replace_original=False, text="usage: /rds-drill run <name>")
            return
        user = command["user_id"]
        reply = drill_commands.run(words[1], user, email_lookup(client, user))
        respond(response_type="ephemeral", replace_original=False, text=reply.text)

    bolt.command("/rds-drill")(drill)
