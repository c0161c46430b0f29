"""Slack messages leave through one ordered outbox: the engine never waits on Slack, and a message that cannot be
posted yet (Slack down beyond the client's own retries) is kept and retried, never dropped."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    description: str
    send: Callable[[], None]
    attempts: int = 0


class SlackOutbox:
    """A FIFO worker: one message at a time, in order; a failing message is retried with backoff until it goes."""

    def __init__(self, backoff_seconds: float = 1.0, max_backoff_seconds: float = 60.0) -> None:
        self._queue: deque[_Pending] = deque()
        self._ready = threading.Condition()
        self._backoff = backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._stopped = False
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="slack-outbox", daemon=True)
        self._thread.start()

    def put(self, description: str, send: Callable[[], None]) -> None:
        with self._ready:
            self._queue.append(_Pending(description, send))
            self._idle.clear()
            self._ready.notify()

    def drain(self, timeout: float) -> bool:
        """Wait until everything queued has been sent (tests, shutdown)."""
        return self._idle.wait(timeout)

    @property
    def pending(self) -> int:
        with self._ready:
            return len(self._queue)

    def stop(self) -> None:
        with self._ready:
            self._stopped = True
            self._ready.notify()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._stopped:
                    self._idle.set()
                    self._ready.wait()
                if self._stopped:
                    return
                item = self._queue[0]
            try:
                item.send()
            except Exception as exc:  # keep the message; Slack outages end
                item.attempts += 1
                delay = min(self._max_backoff, self._backoff * 2 ** min(item.attempts - 1, 10))
                log.warning(
                    "slack message not sent; will retry",
                    extra={"slack_message": item.description, "attempt": item.attempts, "error": str(exc)},
                )
                with self._ready:
                    self._ready.wait(delay)
                continue
            with self._ready:
                self._queue.popleft()
