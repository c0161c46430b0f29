"""Liveness and readiness of a running rdsbot, for load balancers and orchestrators. Pure: the checks are given.

/healthz (alive) fails when the engine loop has died: only a restart brings it back. /readyz fails while the
store cannot be reached, the engine loop has stopped turning, or the process is shutting down: stop sending it
requests, but do not kill it. Leadership is reported, never a failure: a follower replica still answers Slack.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class EngineLoop(Protocol):
    poll_seconds: float

    @property
    def loop_alive(self) -> bool: ...

    @property
    def last_turn(self) -> float | None: ...


@dataclass(frozen=True)
class ProbeReport:
    ok: bool
    checks: dict[str, str]  # name -> "ok" or why not
    leader: dict[str, bool] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": self.checks, "leader": self.leader}


class Probes:
    def __init__(
        self,
        ping_store: Callable[[], None],
        engine: EngineLoop,
        leaders: Mapping[str, Callable[[], bool]],
        stopping: Callable[[], bool],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        stale_after_seconds: float = 120.0,
    ) -> None:
        self._ping_store = ping_store
        self._engine = engine
        self._leaders = leaders
        self._stopping = stopping
        self._monotonic = monotonic
        # A turn polls AWS for every unfinished job; allow several polls (and a slow AWS) before calling it stuck.
        self._stale_after = max(stale_after_seconds, 4 * engine.poll_seconds)

    def liveness(self) -> ProbeReport:
        alive = self._engine.loop_alive or self._stopping()
        return ProbeReport(alive, {"engine_loop": "ok" if alive else "the engine loop has died; restart the process"})

    def readiness(self) -> ProbeReport:
        checks = {"store": self._store(), "engine_loop": self._loop(), "shutdown": "ok"}
        if self._stopping():
            checks["shutdown"] = "shutting down: finishing the step in flight"
        leader = {role: bool(is_leader()) for role, is_leader in self._leaders.items()}
        return ProbeReport(all(v == "ok" for v in checks.values()), checks, leader)

    def _store(self) -> str:
        try:
            self._ping_store()
        except Exception as exc:  # any failure to reach the store is the answer, not a crash of the probe
            return f"store unreachable: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        return "ok"

    def _loop(self) -> str:
        if not self._engine.loop_alive:
            return "the engine loop is not running"
        last = self._engine.last_turn
        if last is None:
            return "the engine loop has not turned yet"
        age = self._monotonic() - last
        if age > self._stale_after:
            return f"the engine loop last turned {age:.0f} s ago (more than {self._stale_after:.0f} s)"
        return "ok"
