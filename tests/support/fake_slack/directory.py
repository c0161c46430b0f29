"""The fake's directory methods: auth.test, users.*, usergroups.*, conversations.open and conversations.list."""

from __future__ import annotations

from typing import Any

from tests.support.fake_slack.calls import BOT_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, truthy
from tests.support.fake_slack.state import SlackState


class DirectoryMethods(SlackState):
    """Each method takes the parsed body and returns the JSON answer."""

    def _auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_DOMAIN,
            "user": "rdsbot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _user(self, user_id: str) -> dict[str, Any]:
        user = self._users[user_id]
        return {
            "id": user_id,
            "team_id": user.get("team_id", TEAM_ID),
            "name": user["name"],
            "real_name": user["name"].title(),
            "deleted": user["deleted"],
            "is_bot": False,
            "tz": "UTC",
            "profile": {"email": user["email"], "real_name": user["name"].title(), "display_name": user["name"]},
        }

    def _users_info(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("user") not in self._users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": self._user(body["user"])}

    def _users_lookup_by_email(self, body: dict[str, Any]) -> dict[str, Any]:
        user_id = next((u for u, user in self._users.items() if user["email"] == body.get("email")), None)
        if user_id is None:
            return {"ok": False, "error": "users_not_found"}
        return {"ok": True, "user": self._user(user_id)}

    def _usergroups_list(self, body: dict[str, Any]) -> dict[str, Any]:
        groups = []
        for group_id, group in self._usergroups.items():
            entry = {
                "id": group_id,
                "team_id": TEAM_ID,
                "is_usergroup": True,
                "handle": group["handle"],
                "name": group["handle"],
                "user_count": len(group["users"]),
            }
            if truthy(body.get("include_users")):
                entry["users"] = list(group["users"])
            groups.append(entry)
        return {"ok": True, "usergroups": groups}

    def _usergroups_users_list(self, body: dict[str, Any]) -> dict[str, Any]:
        group = self._usergroups.get(body.get("usergroup", ""))
        if group is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(group["users"])}

    def _conversations_open(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("channel"):
            return {"ok": True, "channel": {"id": body["channel"]}}
        users = sorted(u for u in str(body.get("users", "")).split(",") if u)
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        # The same people always get the same DM, as in Slack.
        return {"ok": True, "channel": {"id": "D" + "".join(u.removeprefix("U") for u in users)[:10]}}

    def _conversations_list(self, body: dict[str, Any]) -> dict[str, Any]:
        types = str(body.get("types") or "public_channel").split(",")
        channels = [
            {"id": channel_id, "name": c["name"], "is_member": c["is_member"], "is_private": c["is_private"]}
            for channel_id, c in self._channels.items()
            if ("private_channel" if c["is_private"] else "public_channel") in types and not c.get("implicit")
        ]
        return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}
