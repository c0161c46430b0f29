"""The slow part of a Slack request (AWS preflight, IAM membership, Web API posts) runs here, after the ack.

Why not Bolt's lazy listeners: they share Bolt's listener executor (5 threads by default) with the acks, so a burst
of requests queues new acks behind slow work. Measured with bench/ack_latency.py on 50 concurrent /rds-restore
requests: p99 1.7 s with lazy listeners, against a bounded lane of its own (see bench/README.md for the numbers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)


class SlowLane:
    def __init__(self, workers: int = 4) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-slow")

    def submit(self, description: str, work: Callable[..., None], *args: Any) -> Future[None]:
        """Run `work(*args)` soon; a failure is logged with its description, never raised into Bolt."""

        def guarded() -> None:
            try:
                work(*args)
            except Exception:
                log.exception("slow Slack work failed", extra={"work": description})

        return self._pool.submit(guarded)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)
