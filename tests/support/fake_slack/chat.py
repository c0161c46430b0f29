"""The fake's messaging methods: chat.* (posts, edits, deletes, ephemeral, permalinks), views.* and reading a
channel or a thread back (conversations.history / conversations.replies).

Message metadata is kept, and returned only with `include_all_metadata` (https://docs.slack.dev/messaging/message-metadata);
conversations.history and .replies take a channel id, never a name.
"""

from __future__ import annotations

from typing import Any

from tests.support.block_kit_rules import confirm_errors
from tests.support.fake_slack.calls import BOT_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, as_json, truthy
from tests.support.fake_slack.state import SlackState


class ChatMethods(SlackState):
    """Each method takes the parsed body and returns the JSON answer."""

    def _message_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        # `text` stays text even when it starts with "[" (e.g. "[job] ✓ network"); only structured fields are JSON.
        fields: dict[str, Any] = {k: as_json(body[k]) for k in ("blocks", "attachments", "metadata") if k in body}
        if "text" in body:
            fields["text"] = body["text"]
        return {k: v for k, v in fields.items() if v is not None}

    def _chat_post_message(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_id(body.get("channel"))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel in self._archived:
            return {"ok": False, "error": "is_archived"}
        fields = self._message_fields(body)
        if not (fields.get("text") or fields.get("blocks") or fields.get("attachments")):
            return {"ok": False, "error": "no_text"}
        if errors := confirm_errors(fields.get("blocks")):
            return {"ok": False, "error": "invalid_blocks", "errors": errors}
        ts = self._next_ts()
        message = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": ts, **fields}
        if body.get("thread_ts"):
            message["thread_ts"] = body["thread_ts"]
        self._messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        key = (self._channel_id(body.get("channel")) or "", body.get("ts", ""))
        message = self._messages.get(key)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if errors := confirm_errors(self._message_fields(body).get("blocks")):
            return {"ok": False, "error": "invalid_blocks", "errors": errors}
        message.update(self._message_fields(body))
        message["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        return {"ok": True, "channel": key[0], "ts": key[1], "text": message.get("text", ""), "message": message}

    def _chat_delete(self, body: dict[str, Any]) -> dict[str, Any]:
        key = (self._channel_id(body.get("channel")) or "", body.get("ts", ""))
        if self._messages.pop(key, None) is None:
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": key[0], "ts": key[1]}

    def _chat_post_ephemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        if not self._channel_id(body.get("channel")):
            return {"ok": False, "error": "channel_not_found"}
        if not body.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_get_permalink(self, body: dict[str, Any]) -> dict[str, Any]:
        channel, ts = self._channel_id(body.get("channel")) or "", body.get("message_ts", "")
        if (channel, ts) not in self._messages:
            return {"ok": False, "error": "message_not_found"}
        link = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _views_open(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        view = as_json(body.get("view"))
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        view_id = self._next_id("V")
        stored = {**view, "id": view_id, "team_id": TEAM_ID, "hash": self._next_ts(), "state": {"values": {}}}
        self._views[view_id] = stored
        return {"ok": True, "view": stored}

    def _views_update(self, body: dict[str, Any]) -> dict[str, Any]:
        view_id = body.get("view_id") or next(
            (
                v
                for v, view in self._views.items()
                if body.get("external_id") and view.get("external_id") == body["external_id"]
            ),
            None,
        )
        current = self._views.get(view_id or "")
        if current is None:
            return {"ok": False, "error": "not_found"}
        if body.get("hash") and body["hash"] != current["hash"]:
            return {"ok": False, "error": "hash_conflict"}
        view = as_json(body.get("view"))
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        current.update(view)
        current["hash"] = self._next_ts()
        return {"ok": True, "view": current}

    def _listed(self, message: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        # Metadata comes back only when asked for (https://docs.slack.dev/messaging/message-metadata).
        shown = dict(message)
        if not truthy(body.get("include_all_metadata")):
            shown.pop("metadata", None)
        return shown

    def _in_window(self, ts: str, body: dict[str, Any]) -> bool:
        oldest, latest = float(body.get("oldest") or 0), float(body.get("latest") or "inf")
        return oldest < float(ts) <= latest

    def _conversations_history(self, body: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages (thread replies stay in their thread), newest first."""
        channel = body.get("channel", "")
        if channel.startswith("#") or self._channel_id(channel) != channel:
            return {"ok": False, "error": "channel_not_found"}  # an id, never a name
        found = [
            self._listed(m, body)
            for (c, ts), m in self._messages.items()
            if c == channel and m.get("thread_ts") in (None, ts) and self._in_window(ts, body)
        ]
        found.sort(key=lambda m: float(m["ts"]), reverse=True)
        limit = int(body.get("limit") or 100)
        return {"ok": True, "messages": found[:limit], "has_more": len(found) > limit}

    def _conversations_replies(self, body: dict[str, Any]) -> dict[str, Any]:
        """The thread's parent and replies, oldest first."""
        channel, parent = body.get("channel", ""), body.get("ts", "")
        if channel.startswith("#") or self._channel_id(channel) != channel:
            return {"ok": False, "error": "channel_not_found"}
        if (channel, parent) not in self._messages:
            return {"ok": False, "error": "thread_not_found"}
        found = [
            self._listed(m, body)
            for (c, ts), m in self._messages.items()
            if c == channel and (ts == parent or m.get("thread_ts") == parent) and self._in_window(ts, body)
        ]
        found.sort(key=lambda m: float(m["ts"]))
        limit = int(body.get("limit") or 1000)
        return {"ok": True, "messages": found[:limit], "has_more": len(found) > limit}
