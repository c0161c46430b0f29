"""The one composition root: settings -> policy, store, AWS gateways, SQL driver, notifier, engine, chat
commands, drills, the Slack app and the doctor. Only entrypoints (bot/entrypoints, tests, bench) import it;
everything else receives the narrow things it uses from here, so tests can swap any piece for a fake.

One module per surface so none grows past a screenful or two; this package is the only place they meet.
"""

from bot.bootstrap.app import Rdsbot, audit_shipper, build, build_commands, default_sandbox_state, real_console_user
from bot.bootstrap.doctor import build_doctor
from bot.bootstrap.drills import Drills, build_drills
from bot.bootstrap.service import Service, StopStep, build_service
from bot.bootstrap.slack import SlackRuntime, build_slack_app

__all__ = [
    "Drills",
    "Rdsbot",
    "Service",
    "SlackRuntime",
    "StopStep",
    "audit_shipper",
    "build",
    "build_commands",
    "build_doctor",
    "build_drills",
    "build_service",
    "build_slack_app",
    "default_sandbox_state",
    "real_console_user",
]
