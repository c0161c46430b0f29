"""The fake Slack's HTTP surface: a threaded server on a free loopback port, the Web API methods dispatched by
path, response_url posts (5 uses, as Slack allows), every request recorded, and the failures a test switches on:
`down` (every request answered HTTP 500, nothing kept), `fail_next` (a status or a dropped connection), a scripted
answer, `lose_next_answer` (the call takes effect, its answer never arrives), `hold_next_answer` (it takes
effect, its answer waits for `release_held()`) and the rate limits (limits.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.support.fake_slack.calls import (
    DROPPED,
    FILE_UPLOAD,
    RESPONSE_URL,
    RESPONSE_URL_USES,
    Answer,
    Fault,
    RecordedCall,
    parse_body,
)
from tests.support.fake_slack.chat import ChatMethods
from tests.support.fake_slack.directory import DirectoryMethods
from tests.support.fake_slack.files import FileMethods
from tests.support.fake_slack.limits import RateLimits


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
        if answer.held is not None:
            answer.held.wait()  # the call has taken effect; its answer waits for release_held()
        try:
            self._write(answer)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (or was killed) while the answer was held

    def _write(self, answer: Answer) -> None:
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


class FakeSlackApi(ChatMethods, DirectoryMethods, FileMethods):
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
        self.limits = RateLimits()
        self.down = False  # Slack unreachable: HTTP 500 for every request, nothing kept
        self._held: list[threading.Event] = []
        super().__init__(users, usergroups)
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
        self.release_held()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeSlackApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(
        self, method: str, status: int = 429, times: int = 1, retry_after: int | None = 1, *, drop: bool = False
    ) -> None:
        """Answer the next `times` calls of `method` with `status` (Retry-After on 429), or close the socket (drop)."""
        with self._lock:
            fault = Fault(DROPPED if drop else status, retry_after if status == 429 else None, times)
            self._faults.setdefault(method, []).append(fault)

    def set_response(self, method: str, payload: Mapping[str, Any]) -> None:
        """Answer every later call of `method` with this JSON (e.g. {"ok": False, "error": "channel_not_found"})."""
        with self._lock:
            self._scripted[method] = dict(payload)

    def hold_next_answer(self, method: str, times: int = 1) -> None:
        """The next `times` calls of `method` take effect at once (a post is kept, the call recorded) but their
        answers wait until `release_held()`: a request in flight for as long as the test wants, e.g. across a kill
        of the client."""
        with self._lock:
            self._holding[method] = self._holding.get(method, 0) + times

    def release_held(self) -> None:
        """Let every held answer go (to a client that may be gone)."""
        with self._lock:
            held, self._held = self._held, []
        for event in held:
            event.set()

    def lose_next_answer(self, method: str, times: int = 1) -> None:
        """The next `times` calls of `method` take effect (a post is kept) but the connection closes unanswered:
        the client cannot tell whether Slack has it."""
        with self._lock:
            self._lost[method] = self._lost.get(method, 0) + times

    def response_url(self, response_id: str) -> str:
        """A response_url served by this fake; posts to it are recorded under the method RESPONSE_URL."""
        return f"{self.root_url}/response/{response_id}"

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
        timeout: float = 30.0,
        *,
        include_failed: bool = False,
    ) -> RecordedCall:
        """The first call of `method` answered 200 and matching `predicate`, within `timeout` s, or AssertionError.

        The default deadline is for a hung test, not a speed check (speed is measured in bench/): it returns at the
        first match, and a slow lane's AWS calls on a loaded CI machine (2 cores, ~1600 tests) can take seconds.
        """

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

    # -- the HTTP side -----------------------------------------------------------------------------------------

    def _reset_state(self) -> None:
        self._calls: list[RecordedCall] = []
        self._faults: dict[str, list[Fault]] = {}
        self._scripted: dict[str, dict[str, Any]] = {}
        self._lost: dict[str, int] = {}
        self._holding: dict[str, int] = {}
        for event in self._held:
            event.set()  # reset() strands no held answer
        self._held = []
        self.limits.reset()
        super()._reset_state()

    def _receive(self, target: str, headers: dict[str, str], raw: bytes) -> Answer | None:
        url = urlsplit(target)
        lower = {k.lower(): v for k, v in headers.items()}
        body = dict(parse_qsl(url.query, keep_blank_values=True))
        body.update(parse_body(lower.get("content-type", ""), raw))
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
            answer: Answer | None
            limited = None if self.down or fault else self._rate_limited(method, body)
            if self.down:
                answer = Answer.json({"ok": False, "error": "internal_error"}, status=500)
            elif limited is not None:
                answer = Answer(429, json.dumps({"ok": False, "error": "ratelimited"}).encode(), retry_after=limited)
            elif fault is None:
                authed = lower.get("authorization", "").startswith("Bearer ") or bool(body.get("token"))
                answer = self._answer(method, url.path, body, raw, authed)
                if self._lost.get(method):
                    self._lost[method] -= 1
                    answer = None  # it happened; the answer never arrives
                elif self._holding.get(method):
                    self._holding[method] -= 1
                    held = threading.Event()
                    answer = replace(answer, held=held)
                    self._held.append(held)
            elif fault.status == DROPPED:
                answer = None
            else:
                error = "ratelimited" if fault.status == 429 else "internal_error"
                payload = json.dumps({"ok": False, "error": error}).encode()
                answer = Answer(fault.status, payload, retry_after=fault.retry_after)
            status = DROPPED if answer is None else answer.status
            self._calls.append(RecordedCall(method, body, headers, url.path, status, raw))
            self._lock.notify_all()
        return answer

    def _rate_limited(self, method: str, body: dict[str, Any]) -> int | None:
        if method in (RESPONSE_URL, FILE_UPLOAD):
            return None
        channel = body.get("channel")
        return self.limits.check(method, (self._channel_id(channel) or channel) if channel else None)

    def _take_fault(self, method: str) -> Fault | None:
        faults = self._faults.get(method)
        if not faults:
            return None
        fault = faults[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            faults.pop(0)
        return fault

    def _answer(self, method: str, path: str, body: dict[str, Any], raw: bytes, authed: bool) -> Answer:
        if method == RESPONSE_URL:
            uses = sum(1 for c in self._calls if c.path == path and c.status == 200)
            if uses >= RESPONSE_URL_USES:
                return Answer(404, b"used_url", "text/plain")
            return Answer(200, b"ok", "text/plain")
        if method == FILE_UPLOAD:
            return self._upload_bytes(path, raw)
        if method in self._scripted:
            return Answer.json(self._scripted[method])
        handler = self._methods.get(method)
        if handler is None:
            return Answer.json({"ok": False, "error": "unknown_method"})
        if not authed:
            return Answer.json({"ok": False, "error": "not_authed"})
        return Answer.json(handler(body))
