"""A sender's wake-up event on simulated time, so a loop that waits on a threading.Event (handlers/outbox.py) runs a
simulated minute at once: waiting moves the clock on instead of sleeping, and an action scheduled meanwhile (another
thread queueing a write) runs at its moment and, if it sets the event, cuts the wait short as it would for real."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol


class SettableClock(Protocol):
    current: datetime

    def now(self) -> datetime: ...


class SimulatedWake(threading.Event):
    """The sender's wake-up event on simulated time: waiting moves the clock on by the timeout, unless something
    scheduled meanwhile (another thread queueing a write) happens first and sets the event."""

    def __init__(self, clock: SettableClock, mono: list[float], seconds: float) -> None:
        super().__init__()
        self.clock, self.mono, self.start = clock, mono, clock.now()
        self.end = self.start + timedelta(seconds=seconds)
        self.meanwhile: list[tuple[datetime, Callable[[], object]]] = []
        self.stop: Callable[[], None] = lambda: None

    def at(self, seconds: float, action: Callable[[], object]) -> None:
        self.meanwhile.append((self.start + timedelta(seconds=seconds), action))
        self.meanwhile.sort(key=lambda pair: pair[0])

    def _move_to(self, when: datetime) -> None:
        step = (when - self.clock.now()).total_seconds()
        self.clock.current, self.mono[0] = when, self.mono[0] + step

    def wait(self, timeout: float | None = None) -> bool:
        if self.is_set():
            return True
        wake_at = min(self.clock.now() + timedelta(seconds=timeout or 0.0), self.end)
        while self.meanwhile and self.meanwhile[0][0] <= wake_at:
            when, action = self.meanwhile.pop(0)
            self._move_to(when)
            action()
            if self.is_set():
                return True  # woken: the rest of the timeout is not waited
        self._move_to(wake_at)
        if wake_at >= self.end:
            self.stop()
        return False
