"""The long-running service around the wired app (`rdsbot serve`, `rdsbot worker`): probes, the store-read metrics,
and the order in which its parts stop on SIGTERM."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.bootstrap.app import Rdsbot
from bot.bootstrap.slack import SlackRuntime
from bot.metrics import FixedOutbox, OutboxGauge, StoreCollector
from bot.probes import Probes
from handlers.server import HttpRunner, SocketModeRunner, wsgi_app
from handlers.slack_errors import count_slack_errors

# One step of a shutdown: given the seconds left, stop something; False (or a hang) when it did not stop in time.
StopStep = tuple[str, Callable[[float], bool | None]]


@dataclass
class Service:
    app: Rdsbot
    probes: Probes
    runtime: SlackRuntime | None = None
    # Socket Mode, and/or HTTP (which also serves the probes and metrics); none for the worker.
    intake: list[HttpRunner | SocketModeRunner] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        """The engine loop (and audit shipper), the drill scheduler, then intake: nothing is taken before it runs."""
        self.app.start_background()
        if self.runtime is not None:
            self.runtime.drills.start()
        for runner in self.intake:
            runner.start()

    def stop_steps(self) -> list[StopStep]:
        """Intake first (nothing new arrives), then the work in hand, then what carries its results out."""
        self.stopping.set()
        steps: list[StopStep] = []
        runtime = self.runtime
        steps += [(f"intake ({type(runner).__name__})", runner.stop) for runner in self.intake]
        if runtime is not None:
            steps.append(("slack requests in flight", lambda _: runtime.lane.shutdown()))
            steps.append(("drill scheduler", lambda _: runtime.drills.stop()))
        steps.append(("engine", self.app.stop_background))
        if runtime is not None:
            steps.append(("slack outbox", lambda left: _drain(runtime, left)))
        steps.append(("store", lambda _: self.app.close()))
        return steps


def _drain(runtime: SlackRuntime, seconds: float) -> bool:
    """What waits is sent while time allows; the sender stops either way (with the store unreachable the drain
    raises, and a sender left running would outlive the process's shutdown)."""
    try:
        return runtime.outbox.drain(seconds)
    finally:
        runtime.outbox.stop()


def build_service(
    app: Rdsbot, runtime: SlackRuntime | None = None, *, port: int | None = None, app_token: str | None = None
) -> Service:
    """The service over the wired app: HTTP on `port`, Socket Mode with `app_token`, or no intake (the worker)."""
    outboxes: dict[str, OutboxGauge] = {
        "audit": FixedOutbox(app.store.outbox.unshipped_audit_events),
        "slack": app.store.slack_outbox,  # durable: depth and the dead letters Slack refused for good
    }
    leaders: dict[str, Callable[[], bool]] = {
        "restore engine": lambda: app.engine_elector is not None and app.engine_elector.is_leader
    }
    if runtime is not None:
        drills = runtime.drills
        leaders["drill scheduler"] = lambda: drills.elector.is_leader if drills.elector else True
        count_slack_errors(runtime.client, app.metrics.slack_error)
    drill_names = [drill.name for drill in app.policy.drills]
    app.metrics.register(StoreCollector(app.store.jobs, outboxes, app.store.drill_runs, drill_names))
    stopping = threading.Event()
    probes = Probes(app.store.ping, app.engine, leaders, stopping.is_set)
    intake: list[HttpRunner | SocketModeRunner] = []
    if runtime is not None:
        if app_token is not None:
            intake.append(SocketModeRunner(runtime.bolt, app_token))
        # In Socket Mode too: the probes and metrics need a port (Slack's events arrive over the socket instead).
        http_port = port if port is not None else app.settings.port
        intake.append(HttpRunner(wsgi_app(runtime.bolt, probes, app.metrics), http_port))
    return Service(app=app, probes=probes, runtime=runtime, intake=intake, stopping=stopping)
