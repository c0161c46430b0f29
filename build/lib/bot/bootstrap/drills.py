"""Restore drills wired onto the app: runner, sweeper, scheduler, leader election and /rds-drill's commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING

import sqlalchemy as sa

from aws.drill_resources import DrillCleanupGateway
from aws.native_restore.checks import SqlDrillChecks
from bot.commands import ChatCommands
from bot.drills.commands import DrillCommands
from bot.drills.runner import DrillPorts, DrillRunner
from bot.drills.scheduler import DrillScheduler
from bot.drills.sweeper import Sweeper
from bot.leader import LEADER_LOCK_KEY, LeaderElector
from bot.ports import DrillChecks, DrillReporter, DrillResources, DrillRunRepository

if TYPE_CHECKING:
    pass

from bot.bootstrap.app import Rdsbot

# Restore drills.

SWEEP_SECONDS = 10 * 60


@dataclass
class Drills:
    """The drill side of one rdsbot process."""

    runs: DrillRunRepository
    runner: DrillRunner
    sweeper: Sweeper
    scheduler: DrillScheduler
    elector: LeaderElector | None  # None on SQLite: one process, always the leader
    commands: DrillCommands

    def start(self) -> None:
        """Take part in scheduling: at once on SQLite, through the leader election on PostgreSQL."""
        if self.elector is None:
            self.scheduler.start()
        else:
            self.elector.start()

    def stop(self) -> None:
        # The tick in flight finishes before the lock is let go: a successor must not step the same run at once,
        # and the store it writes to is about to close.
        self.scheduler.stop(wait=True)
        if self.elector is not None:
            self.elector.stop()

    def run_until_idle(self, app: Rdsbot, timeout_seconds: float = 120.0) -> None:
        """Drive the engine and the drill runner together until no job and no drill run is unfinished."""
        began = app.clock.now()
        while app.engine.tick() + self.runner.tick():
            if (app.clock.now() - began).total_seconds() > timeout_seconds:
                raise TimeoutError(f"drills still unfinished after {timeout_seconds} s")
            app.clock.sleep(app.engine.poll_seconds)


def build_drills(
    app: Rdsbot,
    reporter: DrillReporter,
    commands: ChatCommands,
    *,
    sweep_seconds: float = SWEEP_SECONDS,
    sweeper_min_age: timedelta = timedelta(hours=1),
    leader_retry_seconds: float = 5.0,
    leader_key: int = LEADER_LOCK_KEY,
) -> Drills:
    """Drills over the wired app, reporting through `reporter`; their failures show in `commands`' /rds-status."""
    store = app.store
    connect_for = app.sql_connect_for
    if connect_for is None:
        raise ValueError("the app has no SQL driver to validate drills with")

    @cache
    def checks_for(region: str) -> DrillChecks:
        return SqlDrillChecks(connect_for(region))

    @cache
    def resources_for(region: str) -> DrillResources:
        clients = app.clients_for(region)
        return DrillCleanupGateway(clients.rds, clients.ec2)

    ports = DrillPorts(
        gateways_for=app.gateways_for, checks_for=checks_for, resources_for=resources_for, reporter=reporter
    )
    runner = DrillRunner(
        app.policy, store.jobs, store.audit, store.drill_runs, app.service, ports, app.clock, app.engine.wake.set
    )
    sweeper = Sweeper(
        app.policy,
        store.audit,
        store.drill_runs,
        resources_for,
        lambda region: app.gateways_for(region).instances,
        reporter,
        app.clock,
        min_age=sweeper_min_age,
    )
    scheduler = DrillScheduler(
        app.policy.drills,
        app.settings.database_url,
        runner,
        periodic={
            "drill-reconcile": (runner.tick, max(1.0, app.settings.poll_seconds)),
            "drill-sweeper": (sweeper.sweep, sweep_seconds),
        },
    )
    elector = None
    if sa.make_url(app.settings.database_url).get_backend_name() == "postgresql":
        elector = LeaderElector(
            app.settings.database_url,
            scheduler.start,
            scheduler.stop,
            retry_seconds=leader_retry_seconds,
            key=leader_key,
        )
    drill_commands = DrillCommands(
        policy=app.policy,
        clock=app.clock,
        audit=store.audit,
        runs=store.drill_runs,
        runner=runner,
        authorizer=commands.decisions.authorizer,
        scheduled_next_run=scheduler.next_run,
    )
    commands.status_notes.append(drill_commands.status_note)
    return Drills(
        runs=store.drill_runs,
        runner=runner,
        sweeper=sweeper,
        scheduler=scheduler,
        elector=elector,
        commands=drill_commands,
    )
