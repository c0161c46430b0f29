"""The Slack side: the Web API client, the approver directory, commands, drills and the Bolt app, in that order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_sdk import WebClient

from bot.chat_outbox import undelivered_note
from bot.commands import ChatCommands
from bot.decision_notice import DecisionAnnouncer
from bot.doctor import DoctorCommand
from bot.errors import ConfigError
from bot.keep_window import format_duration
from bot.ports import AdminDirectory
from handlers.drill import SlackDrillReporter
from handlers.outbox import SlackOutbox
from handlers.slack_app import bolt_app, slack_web_client
from handlers.slack_directory import SlackUsergroupDirectory
from handlers.slack_notifier import SlackNotifier
from handlers.slow_lane import SlowLane

if TYPE_CHECKING:
    pass

from bot.bootstrap.app import Rdsbot, build_commands
from bot.bootstrap.doctor import build_doctor
from bot.bootstrap.drills import Drills, build_drills

# Slack: the Web API client, the approver directory, commands, drills and the Bolt app, in that order.


@dataclass
class SlackRuntime:
    bolt: App
    client: WebClient
    commands: ChatCommands
    notifier: SlackNotifier
    outbox: SlackOutbox
    lane: SlowLane
    drills: Drills  # started by `rdsbot serve`; scheduling only where the leader election says


def build_slack_app(app: Rdsbot, directory: AdminDirectory | None = None) -> SlackRuntime:
    settings = app.settings
    if settings.slack_bot_token is None or settings.slack_signing_secret is None:
        raise ConfigError("SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET must be set to serve Slack")
    client = slack_web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    usergroup = app.policy.approvals.admin_slack_usergroup
    if directory is None and usergroup:
        directory = SlackUsergroupDirectory(client, usergroup)
    commands = build_commands(app, directory)
    # Every Slack write goes through the durable outbox, with a client of its own that never retries by itself.
    token = settings.slack_bot_token.get_secret_value()
    outbox = SlackOutbox(app.store.slack_outbox, slack_web_client(token, settings.slack_api_url, retries=False))
    extend_by = format_duration(app.policy.lifecycle.extend_by)
    notifier = SlackNotifier(outbox, app.store.chat_threads, app.store.approvals, extend_by=extend_by)
    app.notifier.add(notifier)
    if settings.sqlserver_driver == "sandbox" and settings.sandbox_hold_decision:
        from aws.sandbox.decision_hold import HoldDecision  # here, so production paths never load the sandbox

        notifier.before_decision.append(HoldDecision())
    # Decisions a killed process saved but never showed: announced on the engine loop, leader only.
    app.engine.announcers.append(DecisionAnnouncer(app.store.jobs, notifier))
    commands.status_notes.append(lambda: undelivered_note(app.store.slack_outbox))
    lane = SlowLane(workers=2)
    drills = build_drills(app, SlackDrillReporter(outbox), commands)
    signing_secret = settings.slack_signing_secret.get_secret_value()
    doctor = DoctorCommand(commands.decisions.authorizer, build_doctor(settings, slack_client=client).run)
    bolt = bolt_app(
        client, signing_secret, commands, drills.commands, notifier, lane, doctor, settings.slack_enterprise_id
    )
    return SlackRuntime(
        bolt=bolt, client=client, commands=commands, notifier=notifier, outbox=outbox, lane=lane, drills=drills
    )
