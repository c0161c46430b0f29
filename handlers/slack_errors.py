"""Counts failed Slack Web API attempts (HTTP 4xx/5xx, `ok: false`, no answer at all) by method and error.

slack_sdk shows every attempt's outcome to the client's retry handlers, so a handler that never asks for a retry
is an observer of every call the bot makes (Bolt's acks and the outbox alike) without touching a call site.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

# (method, error): ("chat.postMessage", "ratelimited"), ("chat.update", "http_503"), ("auth.test", "URLError")
ErrorSink = Callable[[str, str], None]


class SlackErrorCounter(RetryHandler):
    def __init__(self, on_error: ErrorSink) -> None:
        super().__init__(max_retry_count=2**31)  # consulted on every attempt, however many the others retry
        self._on_error = on_error

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        method = request.url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
        found = _error_of(response, error)
        if found is not None:
            self._on_error(method, found)
        return False


def _error_of(response: HttpResponse | None, error: Exception | None) -> str | None:
    if response is None:
        return type(error).__name__ if error is not None else None
    if response.status_code >= 400:
        return f"http_{response.status_code}"
    body: Any = response.body
    if isinstance(body, dict) and body.get("ok") is False:
        return str(body.get("error") or "unknown")
    return None


def count_slack_errors(client: WebClient, on_error: ErrorSink) -> None:
    """Watch every call `client` makes; first in line, so it sees the attempt before a handler retries it."""
    client.retry_handlers.insert(0, SlackErrorCounter(on_error))
