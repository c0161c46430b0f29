"""Which Slack workspace rdsbot serves: one team (the bot token's, from auth.test), or for an Enterprise Grid
org-wide install one org. A request or a click from anywhere else is refused before anything else runs. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from bot.slack_text import SlackText, mrkdwn


@dataclass(frozen=True)
class Workspace:
    team_id: str | None
    enterprise_id: str | None = None  # set: every team of this Enterprise Grid org is served

    def admits(self, team_id: str | None, enterprise_id: str | None) -> bool:
        """Whether a request (or a user) from this team and enterprise is ours to serve."""
        if self.enterprise_id is not None:
            return enterprise_id == self.enterprise_id
        return team_id is not None and team_id == self.team_id

    def refusal(self, team_id: str | None, enterprise_id: str | None) -> SlackText:
        """What the person from elsewhere reads: where they are, which workspace this bot serves, and that nothing
        was done."""
        if self.enterprise_id is not None:
            return mrkdwn(
                "This rdsbot serves only the Enterprise Grid org {}; this request came from {}. Nothing was done.",
                self.enterprise_id,
                enterprise_id or "outside any org",
            )
        return mrkdwn(
            "This rdsbot serves only the Slack workspace {}; this request came from {}. Nothing was done; ask "
            "in your own workspace's rdsbot.",
            self.team_id or "it was installed in",
            team_id or "an unknown workspace",
        )
