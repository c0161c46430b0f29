"""A fake Slack Web API on 127.0.0.1: records every call, answers like Slack, and fails on request.

Point slack_sdk at it with `WebClient(base_url=fake.base_url)` (or RDSBOT_SLACK_API_URL), put
`fake.response_url("id")` into slash-command payloads, then assert on `fake.calls(...)`.

As strict as Slack where rdsbot depends on it (each with a test in tests/scenario/test_fake_slack*.py):
- rate limits per method, and chat.postMessage per channel, with 429 + Retry-After (tests/support/fake_slack_limits.py);
- channels: chat.postMessage answers with the channel's id, not the name it was given ("channel": "C..."), and a
  deleted channel (`#gone` from the start) answers `channel_not_found`, an archived one `is_archived`
  (https://docs.slack.dev/reference/methods/chat.postMessage, "Errors");
- message metadata is kept, and returned by conversations.history / conversations.replies only with
  `include_all_metadata` (https://docs.slack.dev/messaging/message-metadata);
- `down`: every request answered HTTP 500, nothing kept; `lose_next_answer`: the call takes effect, the answer is lost.
Lenient still: any channel not deleted exists and the bot is in it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.support.block_kit_rules import confirm_errors
from tests.support.fake_slack_limits import RateLimits

TEAM_ID = "T0RDSBOT"
TEAM_DOMAIN = "rdsbot-test"
BOT_USER_ID = "U0RDSBOT"
BOT_ID = "B0RDSBOT"

RESPONSE_URL = "response_url"  # method name recorded for posts to a response_url
FILE_UPLOAD = "file_upload"  # method name recorded for the bytes sent to a files.getUploadURLExternal URL
DROPPED = 0  # status recorded for a call whose connection was closed without an answer

# Slack lets a response_url be used 5 times; the fake refuses the 6th so a chatty handler shows up in tests.
RESPONSE_URL_USES = 5
# files.completeUploadExternal checks `channel_id` (and each of `channels`) against this pattern and answers
# invalid_arguments naming the JSON pointer; a channel name (#rds-drills) fails it. Slack's answer as reported in
# PostHog/posthog#47718; the method reference (docs.slack.dev "files.completeUploadExternal") asks for a channel ID.
CHANNEL_ID = re.compile(r"^[CGDZ][A-Z0-9]{8,}$")
# files.getUploadURLExternal refuses a longer alt_txt with alt_txt_too_large (its method reference, "Errors").
ALT_TXT_LIMIT = 1000
GONE_CHANNEL = "gone"  # deleted from the start: `#gone` answers channel_not_found, as a deleted channel does
_FIRST_TS_MICROS = 1_700_000_000_000_100


@dataclass(frozen=True)
class RecordedCall:
    """One HTTP request the fake received, and the status it answered with (DROPPED if none)."""

    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    path: str
    status: int
    raw: bytes

    def header(self, name: str) -> str | None:
        """A request header by case-insensitive name."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    @property
    def token(self) -> str | None:
        """The token sent, from `Authorization: Bearer ...` or a `token` field."""
        auth = self.header("Authorization") or ""
        if auth.startswith("Bearer "):
            return auth.removeprefix("Bearer ")
        token = self.body.get("token")
        return token if isinstance(token, str) else None

    def field(self, name: str) -> Any:
        """A body field, with JSON-in-a-form-field (blocks, view, ...) decoded as slack_sdk's form calls send it."""
        return _as_json(self.body.get(name))

    @property
    def response_id(self) -> str | None:
        """For a response_url post, the id given to `FakeSlackApi.response_url`."""
        return self.path.rsplit("/", 1)[-1] if self.method == RESPONSE_URL else None


@dataclass
class _Fault:
    status: int
    retry_after: int | None
    remaining: int


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    retry_after: int | None = None

    @classmethod
    def json(cls, payload: Mapping[str, Any], status: int = 200) -> _Answer:
        return cls(status, json.dumps(payload).encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeSlackApi) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one stderr line per call would bury a failing test's output

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        answer = self.server.fake._receive(self.path, dict(self.headers.items()), raw)
        if answer is None:
            # Close without a status line: the client sees "Remote end closed connection without response".
            self.close_connection = True
            return
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        scopes = self.server.fake.scopes
        if scopes is not None and self.path.startswith("/api/"):
            self.send_header("x-oauth-scopes", ",".join(scopes))
        if answer.retry_after is not None:
            self.send_header("Retry-After", str(answer.retry_after))
        self.end_headers()
        self.wfile.write(answer.body)


def _parse_body(content_type: str, raw: bytes) -> dict[str, Any]:
    try:
        return _parse_known_body(content_type, raw)
    except (ValueError, UnicodeDecodeError):
        return {}  # a malformed body is still recorded, as `raw`, for the test to look at


def _parse_known_body(content_type: str, raw: bytes) -> dict[str, Any]:
    if not raw:
        return {}
    if content_type.startswith("application/json"):
        parsed = json.loads(raw)
        return parsed if isinstance(parsed, dict) else {"json": parsed}
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = str(part.get_param("name", header="content-disposition"))
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            fields[name] = payload if part.get_filename() else payload.decode()
        return fields
    if content_type.startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(raw.decode(), keep_blank_values=True))
    return {}


def _as_json(value: Any) -> Any:
    """JSON sent as a form field (blocks, view, ...) decoded; anything else, e.g. "[job] done", as it came."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


class FakeSlackApi:
    """A threaded fake of the Slack Web API and response_url endpoints on a free local port."""

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        usergroups: Mapping[str, Sequence[str]] | None = None,
        scopes: Sequence[str] | None = None,
    ) -> None:
        """`users`: user id -> email; `usergroups`: handle -> member user ids; `scopes`: the token's OAuth scopes,
        sent as Slack does in the `x-oauth-scopes` header of every Web API answer (no header when None)."""
        self.scopes = list(scopes) if scopes is not None else None
        self._lock = threading.Condition()
        self._initial_users = dict(users or {})
        self._initial_usergroups = {h: list(m) for h, m in (usergroups or {}).items()}
        self._ts_micros = _FIRST_TS_MICROS
        self._counter = 0
        self.limits = RateLimits()
        self.down = False  # Slack unreachable: HTTP 500 for every request, nothing kept
        self._reset_state()
        self._server = _Server(self)
        self.root_url = f"http://127.0.0.1:{self._server.server_port}"
        self.base_url = f"{self.root_url}/api/"
        self._thread: threading.Thread | None = None
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.update": self._views_update,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "usergroups.list": self._usergroups_list,
            "usergroups.users.list": self._usergroups_users_list,
            "conversations.open": self._conversations_open,
            "conversations.list": self._conversations_list,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "files.upload": self._files_upload,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> FakeSlackApi:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-slack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeSlackApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

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

    def fail_next(
        self, method: str, status: int = 429, times: int = 1, retry_after: int | None = 1, *, drop: bool = False
    ) -> None:
        """Answer the next `times` calls of `method` with `status` (Retry-After on 429), or close the socket (drop)."""
        with self._lock:
            fault = _Fault(DROPPED if drop else status, retry_after if status == 429 else None, times)
            self._faults.setdefault(method, []).append(fault)

    def set_response(self, method: str, payload: Mapping[str, Any]) -> None:
        """Answer every later call of `method` with this JSON (e.g. {"ok": False, "error": "channel_not_found"})."""
        with self._lock:
            self._scripted[method] = dict(payload)

    def lose_next_answer(self, method: str, times: int = 1) -> None:
        """The next `times` calls of `method` take effect (a post is kept) but the connection closes unanswered:
        the client cannot tell whether Slack has it."""
        with self._lock:
            self._lost[method] = self._lost.get(method, 0) + times

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

    def response_url(self, response_id: str) -> str:
        """A response_url served by this fake; posts to it are recorded under the method RESPONSE_URL."""
        return f"{self.root_url}/response/{response_id}"

    def reset(self) -> None:
        """Forget calls, faults, scripted answers, messages, views and files; users and groups go back to the start."""
        with self._lock:
            self._reset_state()

    # -- queries -----------------------------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """Every recorded call (failed and dropped ones included), oldest first, optionally of one method."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def delivered(self, method: str | None = None) -> list[RecordedCall]:
        """Recorded calls the fake answered with HTTP 200."""
        return [c for c in self.calls(method) if c.status == 200]

    def responses(self, response_id: str) -> list[RecordedCall]:
        """Posts made to `response_url(response_id)`."""
        return [c for c in self.calls(RESPONSE_URL) if c.response_id == response_id]

    def wait_for(
        self,
        method: str,
        predicate: Callable[[RecordedCall], bool] | None = None,
        timeout: float = 5.0,
        *,
        include_failed: bool = False,
    ) -> RecordedCall:
        """The first call of `method` answered 200 and matching `predicate`, within `timeout` s, or AssertionError."""

        def match() -> RecordedCall | None:
            for call in self._calls:
                answered = include_failed or call.status == 200
                if call.method == method and answered and (predicate is None or predicate(call)):
                    return call
            return None

        with self._lock:
            found = self._lock.wait_for(match, timeout)
            if found is None:
                seen = ", ".join(f"{c.method}({c.status})" for c in self._calls) or "nothing"
                raise AssertionError(f"no matching {method} call within {timeout} s; recorded: {seen}")
            return found

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

    # -- the HTTP side -----------------------------------------------------------------------------------------

    def _reset_state(self) -> None:
        self._calls: list[RecordedCall] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._scripted: dict[str, dict[str, Any]] = {}
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._files: dict[str, dict[str, Any]] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._usergroups: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self._lost: dict[str, int] = {}
        self._deleted: set[str] = {GONE_CHANNEL}
        self._archived: set[str] = set()
        self.limits.reset()
        for user_id, email in self._initial_users.items():
            self._users[user_id] = {"email": email, "name": email.split("@")[0], "deleted": False, "team_id": TEAM_ID}
        for handle, members in self._initial_usergroups.items():
            self._usergroups[f"S{len(self._usergroups) + 1:07d}"] = {"handle": handle, "users": list(members)}

    def _receive(self, target: str, headers: dict[str, str], raw: bytes) -> _Answer | None:
        url = urlsplit(target)
        lower = {k.lower(): v for k, v in headers.items()}
        body = dict(parse_qsl(url.query, keep_blank_values=True))
        body.update(_parse_body(lower.get("content-type", ""), raw))
        if url.path.startswith("/api/"):
            method = url.path.removeprefix("/api/")
        elif url.path.startswith("/response/"):
            method = RESPONSE_URL
        elif url.path.startswith("/upload/"):
            method = FILE_UPLOAD
        else:
            method = url.path
        with self._lock:
            fault = self._take_fault(method)
            answer: _Answer | None
            limited = None if self.down or fault else self._rate_limited(method, body)
            if self.down:
                answer = _Answer.json({"ok": False, "error": "internal_error"}, status=500)
            elif limited is not None:
                answer = _Answer(429, json.dumps({"ok": False, "error": "ratelimited"}).encode(), retry_after=limited)
            elif fault is None:
                authed = lower.get("authorization", "").startswith("Bearer ") or bool(body.get("token"))
                answer = self._answer(method, url.path, body, raw, authed)
                if self._lost.get(method):
                    self._lost[method] -= 1
                    answer = None  # it happened; the answer never arrives
            elif fault.status == DROPPED:
                answer = None
            else:
                error = "ratelimited" if fault.status == 429 else "internal_error"
                payload = json.dumps({"ok": False, "error": error}).encode()
                answer = _Answer(fault.status, payload, retry_after=fault.retry_after)
            status = DROPPED if answer is None else answer.status
            self._calls.append(RecordedCall(method, body, headers, url.path, status, raw))
            self._lock.notify_all()
        return answer

    def _rate_limited(self, method: str, body: dict[str, Any]) -> int | None:
        if method in (RESPONSE_URL, FILE_UPLOAD):
            return None
        channel = body.get("channel")
        return self.limits.check(method, (self._channel_id(channel) or channel) if channel else None)

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

    def _take_fault(self, method: str) -> _Fault | None:
        faults = self._faults.get(method)
        if not faults:
            return None
        fault = faults[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            faults.pop(0)
        return fault

    def _answer(self, method: str, path: str, body: dict[str, Any], raw: bytes, authed: bool) -> _Answer:
        if method == RESPONSE_URL:
            uses = sum(1 for c in self._calls if c.path == path and c.status == 200)
            if uses >= RESPONSE_URL_USES:
                return _Answer(404, b"used_url", "text/plain")
            return _Answer(200, b"ok", "text/plain")
        if method == FILE_UPLOAD:
            file = self._files.get(path.rsplit("/", 1)[-1])
            if file is None:
                return _Answer(404, b"not found", "text/plain")
            file["content"] = raw
            return _Answer(200, f"OK - {len(raw)}".encode(), "text/plain")
        if method in self._scripted:
            return _Answer.json(self._scripted[method])
        handler = self._methods.get(method)
        if handler is None:
            return _Answer.json({"ok": False, "error": "unknown_method"})
        if not authed:
            return _Answer.json({"ok": False, "error": "not_authed"})
        return _Answer.json(handler(body))

    def _next_ts(self) -> str:
        # Slack's ts is the post's time (seconds.microseconds) and unique per channel: a client looking for its own
        # post by `oldest` relies on that.
        self._ts_micros = max(self._ts_micros + 100, int(time.time() * 1_000_000))
        return f"{self._ts_micros // 1_000_000}.{self._ts_micros % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter:07d}"

    # -- Web API methods: each takes the parsed body and returns the JSON answer -------------------------------

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

    def _message_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        # `text` stays text even when it starts with "[" (e.g. "[job] ✓ network"); only structured fields are JSON.
        fields: dict[str, Any] = {k: _as_json(body[k]) for k in ("blocks", "attachments", "metadata") if k in body}
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
        view = _as_json(body.get("view"))
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
        view = _as_json(body.get("view"))
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        current.update(view)
        current["hash"] = self._next_ts()
        return {"ok": True, "view": current}

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
            if _truthy(body.get("include_users")):
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

    def _listed(self, message: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        # Metadata comes back only when asked for (https://docs.slack.dev/messaging/message-metadata).
        shown = dict(message)
        if not _truthy(body.get("include_all_metadata")):
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

    def _new_file(self, name: str, title: str | None, content: bytes | None) -> dict[str, Any]:
        file_id = self._next_id("F")
        self._files[file_id] = {"id": file_id, "name": name, "title": title or name, "content": content}
        return {"id": file_id, "name": name, "title": title or name, "size": len(content or b"")}

    def _files_upload(self, body: dict[str, Any]) -> dict[str, Any]:
        content = body.get("file", body.get("content"))
        if content is None:
            return {"ok": False, "error": "no_file_data"}
        data = content if isinstance(content, bytes) else str(content).encode()
        return {"ok": True, "file": self._new_file(body.get("filename", "file"), body.get("title"), data)}

    def _files_get_upload_url(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("filename") or not body.get("length"):
            return {"ok": False, "error": "invalid_arguments"}
        if len(str(body.get("alt_txt") or "")) > ALT_TXT_LIMIT:
            return {"ok": False, "error": "alt_txt_too_large"}
        file = self._new_file(body["filename"], None, None)
        self._files[file["id"]]["alt_txt"] = body.get("alt_txt")
        return {"ok": True, "file_id": file["id"], "upload_url": f"{self.root_url}/upload/{file['id']}"}

    def _files_complete_upload(self, body: dict[str, Any]) -> dict[str, Any]:
        for pointer, given in [("channel_id", body.get("channel_id"))] + [
            ("channels", c) for c in str(body.get("channels") or "").split(",") if c
        ]:
            if given and not CHANNEL_ID.match(str(given)):
                message = f"[ERROR] input must match regex pattern: {CHANNEL_ID.pattern} [json-pointer:/{pointer}]"
                return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": [message]}}
        completed = []
        for item in _as_json(body.get("files")) or []:
            file = self._files.get(item.get("id", ""))
            if file is None or file["content"] is None:
                return {"ok": False, "error": "file_not_found"}
            file["title"] = item.get("title") or file["title"]
            size = len(file["content"])
            completed.append({"id": file["id"], "name": file["name"], "title": file["title"], "size": size})
        if not completed:
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "files": completed}


@pytest.fixture
def fake_slack() -> Iterator[FakeSlackApi]:
    """A fresh FakeSlackApi per test; import it into a conftest to use it by name."""
    with FakeSlackApi() as fake:
        yield fake
