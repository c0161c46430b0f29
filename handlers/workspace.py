"""One workspace: a Bolt middleware that refuses requests and clicks from any other team (or Grid org) before a
listener runs, and the users.info check that keeps the email fallback to users of that team.

A correctly signed request is not necessarily ours: the same app may be installed elsewhere, and people from other
organizations use slash commands and buttons in Slack Connect channels. Slack says where each comes from:
`team_id` / `enterprise_id` on commands, `team.id` and `user.team_id` on interactions, `team_id` and
`enterprise_user.enterprise_id` in users.info."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext, BoltResponse

from bot.workspace import Workspace

log = logging.getLogger(__name__)


class OwnWorkspace:
    """The bot's own workspace, from auth.test (asked once, on first use) or the Enterprise Grid setting."""

    def __init__(self, client: Any, enterprise_id: str | None = None) -> None:
        self._client = client
        self._enterprise_id = enterprise_id
        self._known: Workspace | None = None
        self._lock = threading.Lock()

    def current(self) -> Workspace:
        with self._lock:
            if self._known is None:
                answer = self._client.auth_test()
                self._known = Workspace(team_id=answer.get("team_id"), enterprise_id=self._enterprise_id)
            return self._known


def one_workspace(own: OwnWorkspace) -> Callable[..., BoltResponse]:
    """A global Bolt middleware: another team's request gets the reason as its (ephemeral) answer, and no listener
    runs, so nothing is parsed, stored, audited or asked of AWS."""

    def middleware(context: BoltContext, body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse:
        workspace = own.current()
        user = body.get("user")
        user_team = user.get("team_id") if isinstance(user, dict) else None
        teams = {team for team in (context.team_id, user_team) if team} or {None}
        if all(workspace.admits(team, context.enterprise_id) for team in teams):
            return next()
        outsider = _outsider(teams, workspace)
        log.warning(
            "request from another workspace refused",
            extra={"team_id": outsider, "enterprise_id": context.enterprise_id, "user_id": context.user_id},
        )
        answer = {"response_type": "ephemeral", "text": workspace.refusal(outsider, context.enterprise_id)}
        return BoltResponse(status=200, body=json.dumps(answer), headers={"content-type": "application/json"})

    return middleware


def _outsider(teams: set[str | None], workspace: Workspace) -> str | None:
    """The first team that is not ours (for the message and the log)."""
    return next((team for team in sorted(teams, key=str) if team != workspace.team_id), None)
