"""rdsbot doctor: the read-only checks of the settings, store, AWS account and Slack workspace, in report order."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws.clients import make_clients
from aws.readiness.account import account_checks
from bot.doctor import Check, Doctor, cidr_widths, fail, ok, policy_consistency
from bot.errors import ConfigError
from bot.store.migration_status import store_at_head
from config.policy_model import EXAMPLE_POLICY, load_policy
from config.settings import Settings, load_settings
from handlers.slack_app import slack_web_client
from handlers.slack_readiness import skipped, slack_checks

if TYPE_CHECKING:
    pass


# rdsbot doctor: read-only checks of the settings, store, AWS account and Slack workspace.


def build_doctor(settings: Settings | None = None, *, slack_client: Any = None, no_slack: str | None = None) -> Doctor:
    """The checks, in report order; settings or a policy that do not load are the report's one FAIL line."""
    try:
        settings = settings or load_settings()
        policy = load_policy(settings.config)
    except ConfigError as exc:
        problem = fail("settings", "load", "settings and policy", str(exc), "fix the variable or policy key named")
        return Doctor([("settings", lambda: [problem])])
    loaded = ok("settings", "settings and policy", str(settings.config or EXAMPLE_POLICY), "loaded and valid")
    clients_for = cache(lambda region: make_clients(region, max_attempts=1))
    checks: list[tuple[str, Check]] = [
        ("settings", lambda: [loaded, *policy_consistency(policy)]),
        ("settings", lambda: store_at_head(settings.database_url)),
        ("network", lambda: cidr_widths(policy)),
        *account_checks(clients_for, policy),
    ]
    if slack_client is None and no_slack is None and settings.slack_bot_token is not None:
        slack_client = slack_web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    if slack_client is not None:
        checks += slack_checks(slack_client, policy)
    else:
        reason = no_slack or "SLACK_BOT_TOKEN is not set"
        checks.append(("slack", lambda: skipped(reason)))
    return Doctor(checks, clients_for)
