"""Every Slack write leaves through one durable outbox (the `slack_outbox` table): the engine and the listeners only
queue; this sender posts in order per key, paced per channel and method to Slack's documented limits, honouring
Retry-After, retrying across restarts, and parking what Slack says can never succeed as a dead letter that blocks
nobody. The rules are in bot/chat_outbox.py; this module is the part that talks to Slack.

Exactly once, although chat.postMessage has no idempotency key: each post carries message metadata naming its
outbox uid, and the row is marked unconfirmed before the request leaves. A post whose answer never came (a dropped
connection, a 5xx, a killed process) is looked for in conversations.history / conversations.replies
(`include_all_metadata`) before it is sent again; found, its ts is recorded and nothing is re-posted. Edits are
idempotent and simply re-sent. Ephemeral messages and response_url answers leave no trace to look for, so an
ambiguous one may be shown twice (to one person, never in a channel); a chart upload likewise.

The Web API client given here must not retry by itself: slack_sdk's ServerErrorRetryHandler would re-post after a
500 that may have been a success, and its rate-limit handler would sleep inside this one sender thread.
"""

from __future__ import annotations

import base64
import heapq
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.chat_outbox import (
    MessageKind,
    NewMessage,
    OutboxMessage,
    OutboxPayload,
    Pacer,
    SlackMethod,
    SlackOutboxRepository,
    Verdict,
    backoff,
    verdict,
)
from bot.clock import Clock, SystemClock
from handlers.slack_delivery import Attempt, Park, Retry, SlackDelivery

log = logging.getLogger(__name__)
# Longer than one Web API call (the outbox client's 10 s timeout), so a live sender keeps its claim; short, since a
# sender killed mid-call holds its message this long before another process (or its own restart) may try it.
LEASE_SECONDS = 30.0
# Idle, the sender sleeps until this process queues a write (put sets its event) or a retry it scheduled falls due.
# It polls the table only for what it cannot hear of: a write whose lease a killed sender left (free after
# LEASE_SECONDS), one another replica queued and died before sending, a retry scheduled before a restart. Twice a
# lease: an abandoned write goes within 1.5 leases of its claim, for 4 idle queries a minute (0.25 s polls made 240).
IDLE_POLL_SECONDS = LEASE_SECONDS / 2
# After a write went, the next one of its key is a head now: look again at once rather than after an idle poll.
BUSY_SECONDS = 0.01

Delivered = Callable[[OutboxMessage, str | None, str | None], None]
Parked = Callable[[OutboxMessage, str], None]


class SlackOutbox:
    """The sender thread and the typed ways to queue a write."""

    def __init__(
        self,
        repository: SlackOutboxRepository,
        client: Any,
        clock: Clock | None = None,
        pacer: Pacer | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        start: bool = True,
        idle_poll_seconds: float = IDLE_POLL_SECONDS,
        wake: threading.Event | None = None,
    ) -> None:
        """`wake`: the event a queued write sets (tests pass one that moves a simulated clock instead of waiting);
        `idle_poll_seconds`: the longest the sender waits before looking at the table again."""
        self.repository = repository
        self.client = client
        self.clock = clock or SystemClock()
        self.pacer = pacer or Pacer()
        self.monotonic = monotonic
        self.delivery = SlackDelivery(repository, client, self.clock)
        self.on_delivered: list[Delivered] = []
        self.on_parked: list[Parked] = []
        self.idle_poll_seconds = idle_poll_seconds
        self._wake = wake or threading.Event()
        self._stopped = threading.Event()
        self._retries: list[datetime] = []  # a min-heap: when the retries this sender scheduled fall due
        self._thread: threading.Thread | None = None
        if start:
            self.start()

    # -- queueing ------------------------------------------------------------------------------------------------

    def put(self, message: NewMessage) -> int:
        """Queue a write durably and wake the sender."""
        message_id = self.repository.enqueue(message, self.clock.now())
        self._wake.set()
        return message_id

    def _queue(
        self, method: SlackMethod, kind: MessageKind, key: str, channel: str, payload: OutboxPayload, **refs: Any
    ) -> int:
        return self.put(NewMessage(key=key, method=method, kind=kind, channel=channel, payload=payload, **refs))

    def post(
        self,
        key: str,
        kind: MessageKind,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        job_id: str | None = None,
        ref: str | None = None,
        thread_ref: str | None = None,
    ) -> int:
        payload = OutboxPayload(text=text, blocks=blocks)
        return self._queue(SlackMethod.POST, kind, key, channel, payload, job_id=job_id, ref=ref, thread_ref=thread_ref)

    def update(
        self,
        key: str,
        kind: MessageKind,
        channel: str,
        target_ref: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        job_id: str | None = None,
        ref: str | None = None,
    ) -> int:
        """Edit the message queued as `target_ref`; folds into an edit (or post) of it that is not sent yet. With
        `ref`, an edit that must go once: queued again, it is not."""
        payload = OutboxPayload(text=text, blocks=blocks)
        refs = {"job_id": job_id, "target_ref": target_ref, "ref": ref}
        return self._queue(SlackMethod.UPDATE, kind, key, channel, payload, **refs)

    def ephemeral(self, key: str, channel: str, user: str, text: str, *, job_id: str | None = None) -> int:
        payload = OutboxPayload(text=text, user=user)
        return self._queue(SlackMethod.EPHEMERAL, MessageKind.EPHEMERAL, key, channel, payload, job_id=job_id)

    def respond(
        self,
        key: str,
        response_url: str,
        expires_at: datetime,
        user: str,
        text: str,
        *,
        channel: str = "",
        job_id: str | None = None,
        ref: str | None = None,
    ) -> int:
        """Answer the person who typed a command: through its response_url while valid, else in a DM. With `ref`,
        an answer that must go once."""
        payload = OutboxPayload(text=text, user=user, response_url=response_url, response_url_expires_at=expires_at)
        method, kind = SlackMethod.RESPONSE_URL, MessageKind.REQUESTER
        return self._queue(method, kind, key, channel or user, payload, job_id=job_id, ref=ref)

    def upload(
        self, key: str, channel: str, thread_ref: str, content: bytes, filename: str, title: str, alt_text: str = ""
    ) -> int:
        payload = OutboxPayload(
            file_base64=base64.b64encode(content).decode(), filename=filename, title=title, alt_text=alt_text or None
        )
        return self._queue(SlackMethod.UPLOAD, MessageKind.DRILL_CHART, key, channel, payload, thread_ref=thread_ref)

    # -- the sender ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="slack-outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the write in flight; whatever waits stays in the store for the next start."""
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    @property
    def pending(self) -> int:
        return self.repository.depth()

    def drain(self, timeout: float) -> bool:
        """Wait until nothing is pending (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self.repository.depth():
            if time.monotonic() > deadline:
                return False
            self._wake.set()
            time.sleep(0.02)
        return True

    def run(self) -> None:
        """The sender loop (the thread's target) until stop(): a step, then a wait that a queued write cuts short."""
        while not self._stopped.is_set():
            try:
                delay = self.step()
            except Exception:  # the store unreachable for a moment must not end the sender
                log.exception("slack outbox step failed")
                delay = 1.0
            self._wake.wait(delay)
            self._wake.clear()

    def step(self) -> float:
        """Send every head that its pace allows now; return how long to sleep before looking again."""
        now = self.clock.now()
        while self._retries and self._retries[0] <= now:
            heapq.heappop(self._retries)  # due: this look at the table sees it
        soonest, sent = self.idle_poll_seconds, False
        for head in self.repository.heads(now):
            if self._stopped.is_set():
                break
            wait = self.pacer.wait(head.method, head.channel, self.monotonic())
            if wait > 0:
                soonest = min(soonest, wait)
                continue
            claimed = self.repository.claim(head.id, self.clock.now(), LEASE_SECONDS)
            if claimed is None:
                continue  # another replica's sender has it
            self.pacer.take(head.method, head.channel, self.monotonic())
            self._deliver(claimed)
            sent = True
        if sent:
            return BUSY_SECONDS
        if self._retries:
            soonest = min(soonest, (self._retries[0] - self.clock.now()).total_seconds())
        return max(BUSY_SECONDS, soonest)

    def _retry_later(self, message: OutboxMessage, later: datetime, error: str, unconfirmed: bool) -> None:
        """Put it back until `later`, and wake then: no idle poll stands between a retry and its time."""
        self.repository.retry_later(message.id, later, error, unconfirmed=unconfirmed)
        heapq.heappush(self._retries, later)

    def _deliver(self, message: OutboxMessage) -> None:
        attempt = Attempt()
        try:
            ts, channel = self.delivery.send(message, attempt)
        except SlackApiError as exc:
            self._refused(message, exc, attempt)
            return
        except Retry as exc:
            later = self.clock.now() + timedelta(seconds=exc.seconds)
            self._retry_later(message, later, str(exc), message.unconfirmed)
            return
        except Park as exc:
            self._park(message, str(exc))
            return
        except Exception as exc:  # no answer: connection refused, dropped, timed out
            unconfirmed = message.unconfirmed or (attempt.posted and not _never_connected(exc))
            self._later(message, f"{type(exc).__name__}: {exc}", unconfirmed)
            return
        self.repository.mark_delivered(message.id, ts, channel, self.clock.now())
        for hook in self.on_delivered:
            _safely(lambda h=hook: h(message, ts, channel))  # type: ignore[misc]

    def _refused(self, message: OutboxMessage, exc: SlackApiError, attempt: Attempt) -> None:
        status = int(getattr(exc.response, "status_code", 0) or 0)
        error = str(exc.response.get("error") or f"HTTP {status}")
        if status == 429:
            retry_after = float(_header(exc.response, "Retry-After") or 1)
            self.pacer.pause(message.method, message.channel, self.monotonic(), retry_after)
            later = self.clock.now() + timedelta(seconds=retry_after)
            # 429: Slack did not take it. Unconfirmed stays as it was only if an earlier attempt left it so and this
            # one never reached the post (a rate-limited look-up).
            unconfirmed = message.unconfirmed and not attempt.posted
            self._retry_later(message, later, error, unconfirmed)
        elif status >= 500:
            self._later(message, error, message.unconfirmed or attempt.posted)
        elif verdict(error, message.attempts) == Verdict.PARK:
            self._park(message, error)
        else:
            self._later(message, error, message.unconfirmed and not attempt.posted)

    def _later(self, message: OutboxMessage, error: str, unconfirmed: bool) -> None:
        later = self.clock.now() + backoff(message.attempts)
        log.warning(
            "slack write not sent; will retry",
            extra={"outbox_id": message.id, "kind": message.kind, "attempt": message.attempts, "error": error},
        )
        self._retry_later(message, later, error, unconfirmed)

    def _park(self, message: OutboxMessage, error: str) -> None:
        log.error(
            "slack write parked as a dead letter",
            extra={"outbox_id": message.id, "kind": message.kind, "job_id": message.job_id, "error": error},
        )
        self.repository.park(message.id, error, self.clock.now())
        for hook in self.on_parked:
            _safely(lambda h=hook: h(message, error))  # type: ignore[misc]


def _header(response: Any, name: str) -> str | None:
    headers = getattr(response, "headers", None) or {}
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return str(value[0] if isinstance(value, list) else value)
    return None


def _never_connected(exc: BaseException) -> bool:
    """A refused connection carried nothing to Slack: no need to look for the post before sending it again."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError) or isinstance(
            getattr(seen, "reason", None), ConnectionRefusedError
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _safely(call: Callable[[], None]) -> None:
    try:
        call()
    except Exception:
        log.exception("slack outbox hook failed")
