"""Correctly signed Slack requests (slash commands, button clicks, modal submissions) for a Bolt app in HTTP mode."""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NamedTuple
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier
from waitress import wasyncore
from waitress.server import BaseWSGIServer, create_server

from tests.support.fake_slack import BOT_ID, TEAM_DOMAIN, TEAM_ID

SIGNING_SECRET = "rdsbot-test-signing-secret"  # give the app under test the same one
API_APP_ID = "A0RDSBOT"
EVENTS_PATH = "/slack/events"  # where Bolt's WSGI SlackRequestHandler listens by default
FORM = "application/x-www-form-urlencoded"

_trigger_ids = itertools.count(1)


class SignedRequest(NamedTuple):
    body: bytes
    headers: dict[str, str]


def signed_headers(
    body: bytes, *, signing_secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """Slack's X-Slack-Request-Timestamp and X-Slack-Signature for `body`; pass an old `timestamp` for a stale one."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=stamp, body=body)
    return {"Content-Type": FORM, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": str(signature)}


def _trigger_id() -> str:
    # Unique per request, shaped like Slack's (views.open in the fake only checks one is present).
    return f"{next(_trigger_ids)}.{TEAM_ID}.{int(time.time())}"


def _sign(fields: Mapping[str, str], signing_secret: str, timestamp: int | None) -> SignedRequest:
    body = urlencode(fields).encode()
    return SignedRequest(body, signed_headers(body, signing_secret=signing_secret, timestamp=timestamp))


def _interaction(payload: dict[str, Any], signing_secret: str, timestamp: int | None) -> SignedRequest:
    # Interactive payloads arrive as one form field holding JSON.
    return _sign({"payload": json.dumps(payload, separators=(",", ":"))}, signing_secret, timestamp)


def _user(user_id: str, team_id: str = TEAM_ID) -> dict[str, str]:
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id}


def slash_command(
    command: str,
    text: str = "",
    user_id: str = "U0ALICE",
    channel_id: str = "C0DBAOPS",
    response_url: str = "https://hooks.slack.invalid/commands/T0RDSBOT/1/x",
    *,
    trigger_id: str | None = None,
    channel_name: str = "dba-ops",
    signing_secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    team_id: str = TEAM_ID,
) -> SignedRequest:
    """A signed slash command, form-encoded with the fields Slack sends; `team_id`: the workspace it came from."""
    fields = {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or _trigger_id(),
    }
    return _sign(fields, signing_secret, timestamp)


def block_action(
    action_id: str,
    value: str,
    user_id: str = "U0ALICE",
    channel: str = "C0DBAOPS",
    message_ts: str = "1700000000.000100",
    response_url: str = "https://hooks.slack.invalid/actions/T0RDSBOT/1/x",
    *,
    block_id: str = "actions",
    message: Mapping[str, Any] | None = None,
    trigger_id: str | None = None,
    signing_secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    team_id: str = TEAM_ID,
) -> SignedRequest:
    """A signed click on a button in a channel message, as a `payload=<json>` form."""
    payload = {
        "type": "block_actions",
        "user": _user(user_id, team_id),
        "api_app_id": API_APP_ID,
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": trigger_id or _trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "channel": {"id": channel, "name": channel.lower()},
        "message": {"type": "message", "ts": message_ts, "text": "", **(message or {})},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "text": {"type": "plain_text", "text": value},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return _interaction(payload, signing_secret, timestamp)


def view_submission(
    callback_id: str,
    private_metadata: str = "",
    values: Mapping[str, Mapping[str, Any]] | None = None,
    user_id: str = "U0ALICE",
    *,
    view_id: str = "V0000001",
    signing_secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
) -> SignedRequest:
    """A signed modal submission; `values` is {block_id: {action_id: state}}, a bare string meaning a text input."""
    state = {
        block_id: {
            action_id: {"type": "plain_text_input", "value": v} if isinstance(v, str) else dict(v)
            for action_id, v in actions.items()
        }
        for block_id, actions in (values or {}).items()
    }
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "user": _user(user_id),
        "api_app_id": API_APP_ID,
        "token": "legacy-verification-token",
        "trigger_id": _trigger_id(),
        "view": {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "title": {"type": "plain_text", "text": "rdsbot"},
            "blocks": [],
            "state": {"values": state},
            "hash": "1700000000.abcdef",
            "app_id": API_APP_ID,
            "bot_id": BOT_ID,
        },
        "response_urls": [],
    }
    return _interaction(payload, signing_secret, timestamp)


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float = 10.0) -> tuple[int, str]:
    """POST on a fresh connection; (status, body text), HTTP errors included rather than raised."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


@contextmanager
def serve_wsgi(app: Any, threads: int = 4) -> Iterator[str]:
    """Serve a WSGI app (e.g. Bolt's SlackRequestHandler) with waitress on a free port; yields its root URL."""
    sockets: dict[int, Any] = {}
    server = create_server(app, map=sockets, host="127.0.0.1", port=0, threads=threads)
    # One listen address gives a single-socket server, which knows the port the OS picked.
    assert isinstance(server, BaseWSGIServer)
    port = server.getsockname()[1]
    stop = threading.Event()

    def run() -> None:
        # Poll in short turns and close from this same thread: closing a socket under another thread's
        # select() makes it fail with EBADF.
        while not stop.is_set():
            wasyncore.loop(timeout=0.05, map=sockets, count=1)
        server.task_dispatcher.shutdown()
        wasyncore.close_all(sockets)

    thread = threading.Thread(target=run, name="waitress", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        thread.join(timeout=5)
