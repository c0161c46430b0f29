"""The fake Slack's workspace: users, user groups, channels (deleted, archived), messages, views and files, the
ids and timestamps it hands out, and the test-facing ways to set them up and read them back.

Channels as Slack has them: chat.postMessage answers with the channel's id, not the name it was given, and a
deleted channel (`#gone` from the start) is not found (https://docs.slack.dev/reference/methods/chat.postMessage).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from tests.support.fake_slack.calls import FIRST_TS_MICROS, GONE_CHANNEL, TEAM_ID


class SlackState:
    """The workspace's state behind one lock; the Web API methods (chat.py, directory.py, files.py) act on it."""

    root_url: str  # where the fake serves, set by the HTTP surface (upload URLs point at it)

    def __init__(self, users: Mapping[str, str] | None, usergroups: Mapping[str, Sequence[str]] | None) -> None:
        self._lock = threading.Condition()
        self._initial_users = dict(users or {})
        self._initial_usergroups = {h: list(m) for h, m in (usergroups or {}).items()}
        self._ts_micros = FIRST_TS_MICROS
        self._counter = 0
        self._reset_state()

    # -- configuration -----------------------------------------------------------------------------------------

    def add_user(
        self, user_id: str, email: str, *, name: str | None = None, deleted: bool = False, team_id: str = TEAM_ID
    ) -> None:
        """Make users.info / users.lookupByEmail know this user; `team_id`: another workspace's (Slack Connect)."""
        with self._lock:
            self._users[user_id] = {
                "email": email,
                "name": name or email.split("@")[0],
                "deleted": deleted,
                "team_id": team_id,
            }

    def add_usergroup(self, handle: str, members: Sequence[str]) -> str:
        """Create (or replace the members of) a usergroup; returns its id."""
        with self._lock:
            group_id = next((g for g, group in self._usergroups.items() if group["handle"] == handle), None)
            group_id = group_id or f"S{len(self._usergroups) + 1:07d}"
            self._usergroups[group_id] = {"handle": handle, "users": list(members)}
            return group_id

    def usergroup_id(self, handle: str) -> str:
        """The id the fake gave the usergroup with this handle."""
        with self._lock:
            return next(g for g, group in self._usergroups.items() if group["handle"] == handle)

    def add_channel(self, name: str, *, is_member: bool = True, is_private: bool = False) -> str:
        """A channel conversations.list answers with; returns its id."""
        with self._lock:
            name = name.removeprefix("#")
            channel_id = next((cid for cid, c in self._channels.items() if c["name"] == name), None)
            channel_id = channel_id or f"C{len(self._channels) + 1:010d}"  # Slack's shape: C and 8+ capitals/digits
            self._channels[channel_id] = {"name": name, "is_member": is_member, "is_private": is_private}
            return channel_id

    def delete_channel(self, name_or_id: str) -> None:
        """From now on the channel is gone: posts to it answer channel_not_found."""
        with self._lock:
            self._deleted.add(name_or_id.removeprefix("#"))

    def archive_channel(self, name_or_id: str) -> None:
        """Posts to the channel answer is_archived."""
        with self._lock:
            self._archived.add(self._channel_id(name_or_id) or name_or_id)

    def channel_id(self, name_or_id: str) -> str:
        """The id of a channel the test added (add_channel), or of a conversation id given as such."""
        with self._lock:
            found = self._channel_id(name_or_id)
            if found is None:
                raise AssertionError(f"channel {name_or_id} does not exist or is deleted")
            return found

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The parent message and its replies as they stand now, oldest first."""
        with self._lock:
            channel_id = self._channel_id(channel) or channel
            found = [
                dict(m)
                for (c, ts), m in self._messages.items()
                if c == channel_id and (ts == thread_ts or m.get("thread_ts") == thread_ts)
            ]
        return sorted(found, key=lambda m: float(m["ts"]))

    def reset(self) -> None:
        """Forget calls, faults, scripted answers, messages, views and files; users and groups go back to the start."""
        with self._lock:
            self._reset_state()

    # -- queries -----------------------------------------------------------------------------------------------

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        """The message as it stands now (after chat.update); AssertionError if never posted or deleted."""
        with self._lock:
            found = self._messages.get((self._channel_id(channel) or channel, ts))
            if found is None:
                raise AssertionError(f"no message {ts} in {channel}; posted: {sorted(self._messages)}")
            return dict(found)

    def view(self, view_id: str) -> dict[str, Any]:
        """The modal as it stands now (after views.update); AssertionError if never opened."""
        with self._lock:
            found = self._views.get(view_id)
            if found is None:
                raise AssertionError(f"no view {view_id}; opened: {sorted(self._views)}")
            return dict(found)

    def alt_text(self, file_id: str) -> str | None:
        """The alt_txt given to files.getUploadURLExternal for this file."""
        with self._lock:
            return self._files.get(file_id, {}).get("alt_txt")

    def uploaded(self, file_id: str) -> bytes | None:
        """The bytes uploaded for a file, through files.upload or an external upload URL."""
        with self._lock:
            return self._files.get(file_id, {}).get("content")

    # -- shared by the methods -----------------------------------------------------------------------------------

    def _reset_state(self) -> None:
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._files: dict[str, dict[str, Any]] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._usergroups: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self._deleted: set[str] = {GONE_CHANNEL}
        self._archived: set[str] = set()
        for user_id, email in self._initial_users.items():
            self._users[user_id] = {"email": email, "name": email.split("@")[0], "deleted": False, "team_id": TEAM_ID}
        for handle, members in self._initial_usergroups.items():
            self._usergroups[f"S{len(self._usergroups) + 1:07d}"] = {"handle": handle, "users": list(members)}

    def _channel_id(self, value: str | None) -> str | None:
        """A channel's id from its id or name (created on first sight); a user id is their DM; None when deleted."""
        if not value:
            return None
        name = value.removeprefix("#")
        if name in self._deleted:
            return None
        if name[:1] in ("U", "W") and name[1:].isalnum() and name.upper() == name:
            return "D" + name.removeprefix("U").removeprefix("W")[:10]
        if name[:1] in ("C", "G", "D") and name.upper() == name:
            implicit = {"name": name.lower(), "is_member": True, "is_private": False, "implicit": True}
            self._channels.setdefault(name, implicit)
            return name
        # chat.postMessage takes "an encoded ID or channel name" and answers with the ID (docs.slack.dev
        # "chat.postMessage"); a name no channel has is not found, as in Slack.
        found = next((cid for cid, c in self._channels.items() if c["name"] == name), None)
        return None if found is None or found in self._deleted else found

    def _next_ts(self) -> str:
        # Slack's ts is the post's time (seconds.microseconds) and unique per channel: a client looking for its own
        # post by `oldest` relies on that.
        self._ts_micros = max(self._ts_micros + 100, int(time.time() * 1_000_000))
        return f"{self._ts_micros // 1_000_000}.{self._ts_micros % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter:07d}"
