"""Builds the Bolt app over the wired rdsbot: listeners, the Web API client with retries, the thread notifier.

HTTP mode and Socket Mode share everything built here; only the runner in handlers/server.py differs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.bootstrap import Rdsbot
from bot.chat_threads_store import ChatThreadStore
from bot.commands import ChatCommands, build_commands
from bot.drills.bootstrap import Drills
from bot.errors import ConfigError
from bot.ports import AdminDirectory
from handlers.audit import register_audit
from handlers.drill import register_drill
from handlers.outbox import SlackOutbox
from handlers.restore import register_restore
from handlers.slack_directory import SlackUsergroupDirectory
from handlers.slack_notifier import SlackNotifier
from handlers.slow_lane import SlowLane
from handlers.status import register_status


@dataclass
class SlackRuntime:
    bolt: App
    client: WebClient
    commands: ChatCommands
    notifier: SlackNotifier
    outbox: SlackOutbox
    lane: SlowLane
    drills: Drills | None = None  # started by `rdsbot serve`; scheduling only where the leader election says


def slack_web_client(token: str, base_url: str) -> WebClient:
    """A Web API client that retries 429 (honouring Retry-After), 5xx and connection errors."""
    return WebClient(
        token=token,
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=5),
            ServerErrorRetryHandler(max_retry_count=3),
            ConnectionErrorRetryHandler(max_retry_count=3),
        ],
    )


def build_slack_app(app: Rdsbot, directory: AdminDirectory | None = None) -> SlackRuntime:
    settings = app.settings
    if settings.slack_bot_token is None or settings.slack_signing_secret is None:
        raise ConfigError("SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET must be set to serve Slack")
    token = settings.slack_bot_token.get_secret_value()
    client = slack_web_client(token, settings.slack_api_url)
    usergroup = app.policy.approvals.admin_slack_usergroup
    if directory is None and usergroup:
        directory = SlackUsergroupDirectory(client, usergroup)
    commands = build_commands(app, directory)
    outbox = SlackOutbox()
    notifier = SlackNotifier(client, outbox, ChatThreadStore(app.store.engine))
    app.notifier.add(notifier)
    lane = SlowLane(workers=2)
    bolt = App(
        client=client,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        # Listeners only ack and hand off, so answering after the listener returns costs nothing and skips
        # Bolt's executor hop and its 10 ms ack polling (bench/README.md has the numbers).
        process_before_response=True,
        logger=logging.getLogger("slack_bolt"),
    )
    register_restore(bolt, commands, notifier, lane)
    register_status(bolt, commands)
    register_audit(bolt, commands)
    drills = register_drill(bolt, commands, client, outbox, lane)
    return SlackRuntime(
        bolt=bolt, client=client, commands=commands, notifier=notifier, outbox=outbox, lane=lane, drills=drills
    )
