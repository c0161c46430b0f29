"""rdsbot doctor's look at Slack, read only: auth.test passes, the token's scopes (the `x-oauth-scopes` header of
every Web API answer) cover the bot scopes manifest.yml declares, the approvals and drill report channels exist
with the bot in them, and a configured admin user group exists and is not empty.

Slack: "auth.test" (api.slack.com/methods/auth.test); "OAuth scopes" (x-oauth-scopes lists the token's scopes);
"conversations.list" needs channels:read (public) / groups:read (private), so without them the channel check says
it could not look, as a warn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.doctor import Check, CheckResult, fail, ok, scope_coverage, warn
from config.policy_model import Policy
from handlers.slack_directory import SlackUsergroupDirectory

MANIFEST = Path(__file__).resolve().parents[1] / "manifest.yml"


def manifest_bot_scopes(path: Path = MANIFEST) -> tuple[str, ...]:
    """The bot scopes the Slack app manifest declares."""
    manifest = yaml.safe_load(path.read_text())
    return tuple(manifest["oauth_config"]["scopes"]["bot"])


def _error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "an error"))
    return str(exc)


class SlackChecks:
    def __init__(self, client: Any, policy: Policy, required_scopes: tuple[str, ...]) -> None:
        self._client = client
        self._policy = policy
        self._required = required_scopes
        self._granted: set[str] | None = None
        self._bot_user: str | None = None

    def auth(self) -> list[CheckResult]:
        try:
            answer = self._client.auth_test()
        except (SlackClientError, OSError) as exc:
            fix = "set SLACK_BOT_TOKEN to the app's Bot User OAuth Token (xoxb-...) and RDSBOT_SLACK_API_URL"
            return [fail("slack", "auth.test", "SLACK_BOT_TOKEN", _error(exc), fix)]
        self._bot_user = str(answer.get("user_id") or "")
        header = next((v for k, v in answer.headers.items() if k.lower() == "x-oauth-scopes"), None)
        workspace = f"{answer.get('team')} as {answer.get('user')}"
        results = [ok("slack", "auth.test", workspace, f"bot user {self._bot_user}")]
        if header is None:
            results.append(warn("slack", "token scopes", workspace, "Slack sent no x-oauth-scopes header"))
            return results
        self._granted = {s.strip() for s in str(header).split(",") if s.strip()}
        return [*results, scope_coverage(self._granted, self._required, workspace)]

    def channels(self) -> list[CheckResult]:
        wanted = {self._policy.approvals.channel: "approvals.channel"}
        for drill in self._policy.drills:
            wanted.setdefault(drill.report_channel, f"drills.{drill.name}.report_channel")
        if self._granted is None or "channels:read" not in self._granted:
            why = "the token lacks channels:read" if self._granted is not None else "auth.test did not pass"
            return [warn("slack", "channel", ", ".join(wanted), f"not checked: {why}", "add channels:read to check")]
        types = "public_channel,private_channel" if "groups:read" in self._granted else "public_channel"
        try:
            known = self._all_channels(types)
        except (SlackClientError, OSError) as exc:
            return [warn("slack", "channel", ", ".join(wanted), f"conversations.list failed: {_error(exc)}")]
        results = []
        for channel, setting in wanted.items():
            name = channel.removeprefix("#")
            found = known.get(name) or next((c for c in known.values() if c["id"] == channel), None)
            if found is None and "groups:read" not in self._granted:
                why = "not among public channels; a private one needs groups:read to be seen"
                results.append(warn("slack", "channel", f"{setting}: {channel}", why))
            elif found is None:
                fix = f"create {channel} in Slack, or set {setting} to an existing channel"
                results.append(fail("slack", "channel", f"{setting}: {channel}", "no such channel", fix))
            elif not found.get("is_member"):
                fix = f"/invite @rdsbot in {channel}"
                results.append(fail("slack", "channel", f"{setting}: {channel}", "the bot is not a member", fix))
            else:
                results.append(ok("slack", "channel", f"{setting}: {channel}", f"{found['id']}, the bot is a member"))
        return results

    def _all_channels(self, types: str) -> dict[str, dict[str, Any]]:
        channels: dict[str, dict[str, Any]] = {}
        cursor = None
        while True:
            page = self._client.conversations_list(types=types, exclude_archived=True, limit=200, cursor=cursor)
            for channel in page["channels"]:
                channels[str(channel["name"])] = channel
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return channels

    def usergroup(self) -> list[CheckResult]:
        handle = self._policy.approvals.admin_slack_usergroup
        if not handle:
            return []
        subject = f"approvals.admin_slack_usergroup: {handle}"
        try:
            members = SlackUsergroupDirectory(self._client, handle).members()
        except Exception as exc:  # SlackClientError, OSError, or the directory's not-found error
            fix = f"create the user group @{handle.removeprefix('@')} in Slack, or fix the handle"
            return [fail("approvers", "Slack user group", subject, _error(exc), fix)]
        if not members:
            fix = f"add the admins to @{handle.removeprefix('@')}"
            return [fail("approvers", "Slack user group", subject, "empty: nobody can approve", fix)]
        return [ok("approvers", "Slack user group", subject, f"{len(members)} member(s)")]


def slack_checks(client: Any, policy: Policy) -> list[tuple[str, Check]]:
    """The Slack lines of the report, in order (auth.test first: the others use the scopes it reads)."""
    slack = SlackChecks(client, policy, manifest_bot_scopes())
    return [("slack", slack.auth), ("slack", slack.channels), ("approvers", slack.usergroup)]


def skipped(reason: str) -> list[CheckResult]:
    """The Slack lines when there is no Slack to check (the console, no token)."""
    return [warn("slack", "Slack checks", "SLACK_BOT_TOKEN", f"skipped: {reason}")]
