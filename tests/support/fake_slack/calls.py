"""What the fake Slack records and how it reads a request: the workspace's ids, the method names it records
posts to a response_url and uploads under, one recorded call, a scripted fault, an answer, and the request body
parsed as slack_sdk sends it (JSON, a form, multipart)."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

TEAM_ID = "T0RDSBOT"
TEAM_DOMAIN = "rdsbot-test"
BOT_USER_ID = "U0RDSBOT"
BOT_ID = "B0RDSBOT"

RESPONSE_URL = "response_url"  # method name recorded for posts to a response_url
FILE_UPLOAD = "file_upload"  # method name recorded for the bytes sent to a files.getUploadURLExternal URL
DROPPED = 0  # status recorded for a call whose connection was closed without an answer

# Slack lets a response_url be used 5 times; the fake refuses the 6th so a chatty handler shows up in tests.
RESPONSE_URL_USES = 5
GONE_CHANNEL = "gone"  # deleted from the start: `#gone` answers channel_not_found, as a deleted channel does
FIRST_TS_MICROS = 1_700_000_000_000_100


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
        return as_json(self.body.get(name))

    @property
    def response_id(self) -> str | None:
        """For a response_url post, the id given to `FakeSlackApi.response_url`."""
        return self.path.rsplit("/", 1)[-1] if self.method == RESPONSE_URL else None


@dataclass
class Fault:
    status: int
    retry_after: int | None
    remaining: int


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    retry_after: int | None = None
    held: threading.Event | None = None  # set: the answer may go (hold_next_answer)

    @classmethod
    def json(cls, payload: Mapping[str, Any], status: int = 200) -> Answer:
        return cls(status, json.dumps(payload).encode())


def parse_body(content_type: str, raw: bytes) -> dict[str, Any]:
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


def as_json(value: Any) -> Any:
    """JSON sent as a form field (blocks, view, ...) decoded; anything else, e.g. "[job] done", as it came."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")
