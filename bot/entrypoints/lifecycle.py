"""How `rdsbot serve` and `rdsbot worker` stop: SIGTERM or SIGINT asks; the stop steps run in order against one
deadline (RDSBOT_SHUTDOWN_SECONDS); the process then exits 0, or 1 naming what did not stop in time.

Why a handler at all: as PID 1 in a container, a process that installs none ignores SIGTERM (the kernel gives
PID 1 no default actions), so `docker stop` waits its 10 s and SIGKILLs mid-restore; outside a container the
default action kills at once, with nothing flushed. Why os._exit at the end: a thread stuck in a network call must
not hold the process past its deadline; everything worth keeping is saved or flushed by then.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType

from bot.bootstrap import StopStep

log = logging.getLogger(__name__)


class Shutdown:
    def __init__(self, grace_seconds: float) -> None:
        self.grace_seconds = grace_seconds
        self.requested = threading.Event()

    def install(self) -> None:
        """Turn SIGTERM and SIGINT into a request to stop (main thread only, as Python requires)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.requested.is_set():
            log.warning("%s while stopping: already stopping, within %.0f s", name, self.grace_seconds)
            return
        log.info("%s received: stopping within %.0f s", name, self.grace_seconds)
        self.requested.set()

    def wait(self) -> None:
        """Block the main thread until a stop is asked for; short waits, so the signal handler runs at once."""
        while not self.requested.wait(0.5):
            pass

    def run(self, steps: Sequence[StopStep]) -> int:
        """Each step in order, each given the seconds left; 0 when all finished in time, else 1."""
        began = time.monotonic()
        deadline = began + self.grace_seconds
        late: list[str] = []
        for name, step in steps:
            if not _bounded(name, step, deadline):
                late.append(name)
        took = time.monotonic() - began
        if late:
            log.error("stopped in %.1f s; did not finish in time: %s", took, ", ".join(late))
            return 1
        log.info("stopped cleanly in %.1f s", took)
        return 0


def _bounded(name: str, step: Callable[[float], bool | None], deadline: float) -> bool:
    """Run one step in a thread of its own and wait for it no later than the deadline."""
    left = deadline - time.monotonic()
    if left <= 0:
        return False
    outcome: list[bool | None] = []

    def run() -> None:
        try:
            outcome.append(step(left))
        except Exception:
            log.exception("stop step failed", extra={"step": name})
            outcome.append(False)

    thread = threading.Thread(target=run, name=f"stop-{name}", daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    return bool(outcome) and outcome[0] is not False


def exit_now(code: int) -> None:
    """Flush logs and standard streams, then leave without waiting for threads still blocked somewhere."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed or broken stream has nothing left to keep
            stream.flush()
    os._exit(code)
