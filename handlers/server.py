"""Runners: HTTP behind waitress (POST /slack/events, GET /healthz, /readyz, /metrics), or Socket Mode. Same
listeners for both; each runner can stop taking requests on shutdown while the ones in flight finish.

Bolt's built-in app.start() is a development server that resets connections under 20 concurrent requests;
waitress is a production WSGI server (see bench/ack_latency.py for the numbers).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.probes import ProbeReport

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class ProbeSource(Protocol):
    def liveness(self) -> ProbeReport: ...

    def readiness(self) -> ProbeReport: ...


class MetricsSource(Protocol):
    def exposition(self) -> bytes: ...


def wsgi_app(bolt: App, probes: ProbeSource | None = None, metrics: MetricsSource | None = None) -> WsgiApp:
    """The WSGI application: Slack's requests to Bolt, the probes and metrics for operators, 404 for the rest."""
    slack = SlackRequestHandler(bolt, path=EVENTS_PATH)

    def respond(start_response: StartResponse, status: str, body: bytes, content_type: str) -> list[bytes]:
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    def probe(start_response: StartResponse, report: ProbeReport) -> list[bytes]:
        status = "200 OK" if report.ok else "503 Service Unavailable"
        return respond(start_response, status, json.dumps(report.as_json()).encode(), "application/json")

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == EVENTS_PATH:
            return slack(environ, start_response)
        if path == HEALTH_PATH:
            return probe(start_response, probes.liveness() if probes else ProbeReport(True, {}))
        if path == READY_PATH and probes is not None:
            return probe(start_response, probes.readiness())
        if path == METRICS_PATH and metrics is not None:
            from bot.metrics import CONTENT_TYPE

            return respond(start_response, "200 OK", metrics.exposition(), CONTENT_TYPE)
        return respond(start_response, "404 Not Found", b"not found", "text/plain")

    return application


class HttpRunner:
    """waitress on host:port in a thread of its own; `stop` closes the listener, then lets requests in flight end."""

    def __init__(self, app: WsgiApp, port: int, host: str = "0.0.0.0", threads: int = 16) -> None:
        from waitress.server import BaseWSGIServer, create_server

        self._sockets: dict[int, Any] = {}
        self._server = create_server(app, map=self._sockets, host=host, port=port, threads=threads, ident="rdsbot")
        assert isinstance(self._server, BaseWSGIServer)  # one listen address: one socket, whose port we can read
        self.port = int(self._server.getsockname()[1])
        self._stop = threading.Event()
        self._drain_seconds = 5.0
        self._thread = threading.Thread(target=self._run, name="waitress", daemon=True)

    def start(self) -> None:
        log.info("serving HTTP", extra={"port": self.port})
        self._thread.start()

    def _run(self) -> None:
        from waitress import wasyncore

        # Short turns, and every close on this same thread: closing a socket under another thread's select()
        # fails with EBADF.
        while not self._stop.is_set():
            wasyncore.loop(timeout=0.05, map=self._sockets, count=1)
        self._server.close()  # no new connections from here on
        # Keep the loop turning while requests are handled: it writes out what their threads leave unsent.
        tasks = self._server.task_dispatcher
        deadline = time.monotonic() + self._drain_seconds
        while (tasks.active_count or tasks.queue) and time.monotonic() < deadline:
            wasyncore.loop(timeout=0.05, map=self._sockets, count=1)
        for _ in range(3):  # the last responses' bytes
            wasyncore.loop(timeout=0.01, map=self._sockets, count=1)
        tasks.shutdown(cancel_pending=True, timeout=max(1, int(deadline - time.monotonic())))
        wasyncore.close_all(self._sockets)

    def stop(self, timeout: float) -> bool:
        """Stop accepting, let the requests being handled finish (at most `timeout`); True when all did."""
        self._drain_seconds = max(0.1, timeout)
        self._stop.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()


class SocketModeRunner:
    """Slack's Socket Mode connection; `stop` closes it, so Slack sends the next event to another replica."""

    def __init__(self, bolt: App, app_token: str) -> None:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        self._handler = SocketModeHandler(bolt, app_token)

    def start(self) -> None:
        self._handler.connect()  # type: ignore[no-untyped-call]

    def stop(self, timeout: float) -> bool:
        self._handler.close()  # type: ignore[no-untyped-call]
        return True
