"""Waiting without a fixed sleep: for a condition to come true by a deadline, or (a negative check) for one to hold
throughout, failing at its first lapse."""

from __future__ import annotations

import time
from collections.abc import Callable


def holds_throughout(condition: Callable[[], bool], seconds: float, what: str, interval: float = 0.01) -> None:
    """Assert `condition` at every poll for `seconds`; a lapse fails at once, naming `what` should have held.

    For "nothing happened" checks where there is no event to wait on: a sleep followed by one look passes if the
    unwanted thing happens just after the look; this looks the whole time and then once more at the deadline.
    """
    deadline = time.monotonic() + seconds
    while True:
        assert condition(), f"no longer true: {what}"
        if time.monotonic() >= deadline:
            assert condition(), f"no longer true at the deadline: {what}"
            return
        time.sleep(interval)


def eventually(condition: Callable[[], bool], seconds: float, what: str, interval: float = 0.02) -> None:
    """Return as soon as `condition` holds; fail naming `what` if it has not by the deadline."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(interval)
