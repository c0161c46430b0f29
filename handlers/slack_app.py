"""The Bolt app and its listeners, over the chat commands the composition root (bot/bootstrap/) built.

HTTP mode and Socket Mode share everything built here; only the runner in handlers/server.py differs.
"""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.commands import ChatCommands
from bot.doctor import DoctorCommand
from bot.drills.commands import DrillCommands
from handlers.audit import register_audit
from handlers.backup import register_backup
from handlers.doctor import register_doctor
from handlers.drill import register_drill
from handlers.restore import register_restore
from handlers.slack_notifier import SlackNotifier
from handlers.slow_lane import SlowLane
from handlers.status import register_status
from handlers.workspace import OwnWorkspace, one_workspace


def slack_web_client(token: str, base_url: str, *, retries: bool = True) -> WebClient:
    """A Web API client that retries 429 (honouring Retry-After), 5xx and connection errors; with `retries` False,
    one that never retries, for the outbox, which retries durably itself (handlers/outbox.py says why)."""
    handlers = [
        RateLimitErrorRetryHandler(max_retry_count=5),
        ServerErrorRetryHandler(max_retry_count=3),
        ConnectionErrorRetryHandler(max_retry_count=3),
    ]
    return WebClient(
        token=token,
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        timeout=10 if not retries else 30,
        retry_handlers=handlers if retries else [],
    )


def bolt_app(
    client: WebClient,
    signing_secret: str,
    commands: ChatCommands,
    drill_commands: DrillCommands,
    notifier: SlackNotifier,
    lane: SlowLane,
    doctor: DoctorCommand | None = None,
    enterprise_id: str | None = None,
) -> App:
    """The Bolt app with every rdsbot listener registered, serving only its own workspace (or Grid org)."""
    bolt = App(
        client=client,
        signing_secret=signing_secret,
        # Listeners only ack and hand off, so answering after the listener returns costs nothing and skips
        # Bolt's executor hop and its 10 ms ack polling (bench/README.md has the numbers).
        process_before_response=True,
        logger=logging.getLogger("slack_bolt"),
    )
    own = OwnWorkspace(client, enterprise_id)
    bolt.use(one_workspace(own))  # before every listener: another team's request runs none of them
    register_restore(bolt, commands, notifier, lane, own)
    register_backup(bolt, commands, notifier, lane)
    register_status(bolt, commands, lane, notifier.outbox, own)
    register_audit(bolt, commands, lane, notifier.outbox)
    register_drill(bolt, drill_commands, lane, own, notifier.outbox)
    if doctor is not None:
        register_doctor(bolt, doctor, lane, own)
    return bolt
