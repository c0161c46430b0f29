"""Runners: HTTP behind waitress (POST /slack/events, GET /healthz), or Socket Mode. Same listeners for both.

Bolt's built-in app.start() is a development server that resets connections under 20 concurrent requests;
waitress is a production WSGI server (see bench/ack_latency.py for the numbers).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
StartResponse = Callable[..., Any]


def wsgi_app(
    bolt: App, healthy: Callable[[], bool] = lambda: True
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The WSGI application: Slack's requests to Bolt, /healthz for load balancers, 404 for the rest."""
    slack = SlackRequestHandler(bolt, path=EVENTS_PATH)

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH:
            ok = healthy()
            body = json.dumps({"ok": ok}).encode()
            start_response(
                "200 OK" if ok else "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        if path == EVENTS_PATH:
            return slack(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
        return [b"not found"]

    return application


def serve_http(bolt: App, port: int, host: str = "0.0.0.0", threads: int = 16) -> None:
    import waitress

    waitress.serve(wsgi_app(bolt), host=host, port=port, threads=threads, ident="rdsbot")


def serve_socket_mode(bolt: App, app_token: str) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    SocketModeHandler(bolt, app_token).start()  # type: ignore[no-untyped-call]
