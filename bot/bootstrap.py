"""The one composition root: settings -> policy, store, AWS gateways, SQL driver, notifier, engine, chat
commands, drills and the Slack app. Only entrypoints (bot/entrypoints, tests, bench) import it; everything else
receives the narrow things it uses from here, so tests can swap any piece for a fake.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from slack_bolt import App
from slack_sdk import WebClient

from aws.admin_directory import IamAdminDirectory
from aws.audit_shipper import S3AuditSink, audit_s3_client
from aws.clients import AwsClients, make_clients
from aws.drill_resources import DrillCleanupGateway
from aws.iam import RestoreRoles
from aws.instances import Instances
from aws.native_restore import SqlNativeRestore, tds_connector
from aws.native_restore.checks import SqlDrillChecks
from aws.network import Network
from aws.option_groups import OptionGroups
from aws.readiness.account import account_checks
from aws.request_ids import MutatingCallLog
from aws.s3 import S3Backups
from aws.secrets import master_credentials
from bot.approvals import Decisions
from bot.audit_outbox import AuditRecordLinks, AuditShipper
from bot.authz import Authorizer
from bot.clock import Clock, SystemClock
from bot.commands import ChatCommands
from bot.doctor import Check, Doctor, DoctorCommand, cidr_widths, fail, ok, policy_consistency
from bot.domain import InstanceState
from bot.drills.commands import DrillCommands
from bot.drills.runner import DrillPorts, DrillRunner
from bot.drills.scheduler import DrillScheduler
from bot.drills.sweeper import Sweeper
from bot.errors import ConfigError
from bot.leader import ENGINE_LOCK_KEY, LEADER_LOCK_KEY, LeaderElector
from bot.notifiers import FanoutNotifier
from bot.ports import AdminDirectory, DrillChecks, DrillReporter, DrillResources, DrillRunRepository
from bot.service import RestoreService
from bot.stages import Gateways
from bot.store import SqlStore
from bot.store.migration_status import store_at_head
from bot.workflow import Engine
from config.policy_model import EXAMPLE_POLICY, Policy, load_policy
from config.settings import Settings, load_settings
from handlers.drill import SlackDrillReporter
from handlers.outbox import SlackOutbox
from handlers.slack_app import bolt_app, slack_web_client
from handlers.slack_directory import SlackUsergroupDirectory
from handlers.slack_notifier import SlackNotifier
from handlers.slack_readiness import skipped, slack_checks
from handlers.slow_lane import SlowLane

if TYPE_CHECKING:
    from aws.sandbox.sql_server import SandboxSqlServer


@dataclass
class Rdsbot:
    """The wired application."""

    settings: Settings
    policy: Policy
    store: SqlStore
    clock: Clock
    notifier: FanoutNotifier
    gateways_for: Callable[[str], Gateways]
    service: RestoreService
    engine: Engine
    clients_for: Callable[[str], AwsClients]
    sandbox_sql: SandboxSqlServer | None = None
    # Ships the audit trail to the policy's audit bucket; None when the policy names no audit bucket.
    audit_shipper: AuditShipper | None = None
    # region -> connect(instance): the SQL driver the restore uses, for drill validation queries.
    sql_connect_for: Callable[[str], Callable[[InstanceState], Any]] | None = None

    def start_background(self) -> threading.Event:
        """The engine loop, and the audit shipper when configured, in daemon threads; set the event to stop both."""
        elector = LeaderElector(
            self.settings.database_url, self.engine.wake.set, lambda: None, key=ENGINE_LOCK_KEY, role="restore engine"
        )
        self.engine.is_leader = lambda: elector.is_leader
        elector.step()  # elect now, so a single replica starts at once
        elector.start()
        stop = self.engine.start_background()

        def step_down_on_stop() -> None:
            stop.wait()
            elector.stop()

        threading.Thread(target=step_down_on_stop, name="engine-leader-stop", daemon=True).start()
        if self.audit_shipper is not None:
            self.audit_shipper.start_background(stop, max(1.0, self.settings.poll_seconds))
        return stop

    def close(self) -> None:
        self.store.close()


def build(settings: Settings, *, clock: Clock | None = None, sandbox_sql: SandboxSqlServer | None = None) -> Rdsbot:
    """Wire rdsbot from settings; `sandbox_sql` lets several engines share one emulated SQL Server."""
    policy = load_policy(settings.config)
    store = SqlStore(settings.database_url)
    clock = clock or SystemClock()
    clients: dict[str, AwsClients] = {}
    aws_requests = MutatingCallLog()

    def clients_for(region: str) -> AwsClients:
        if region not in clients:
            clients[region] = make_clients(region)
            for client in clients[region].all().values():
                aws_requests.attach(client)
        return clients[region]

    if settings.sqlserver_driver == "sandbox" and sandbox_sql is None:
        from aws.sandbox.sql_server import embedded_sql_server  # here, so production paths never load the emulator

        sandbox_sql = embedded_sql_server(
            clients_for(policy.region.default).s3,
            restore_seconds=settings.sandbox_restore_seconds,
            state_path=settings.sandbox_state_path or default_sandbox_state(settings.database_url),
        )

    def connector(region: str) -> Callable[[InstanceState], Any]:
        if sandbox_sql is not None:
            return sandbox_sql.connect
        secrets = clients_for(region).secretsmanager

        def credentials_for(instance: InstanceState) -> tuple[str, str]:
            if not instance.master_secret_arn:
                raise ValueError(f"{instance.instance_id} has no RDS-managed master secret")
            return master_credentials(secrets, instance.master_secret_arn)

        return tds_connector(credentials_for)

    @cache
    def gateways_for(region: str) -> Gateways:
        aws = clients_for(region)
        return Gateways(
            backups=S3Backups(aws.s3),
            network=Network(aws.ec2, aws.rds),
            roles=RestoreRoles(aws.iam, aws.sts),
            option_groups=OptionGroups(aws.rds),
            instances=Instances(aws.rds),
            native_restore=SqlNativeRestore(connector(region)),
        )

    shipper = audit_shipper(policy, store, clock)
    # The record links go first: they must be on the job before chat renders its completion.
    notifier = FanoutNotifier(*([AuditRecordLinks(shipper)] if shipper else []))
    return Rdsbot(
        settings=settings,
        policy=policy,
        store=store,
        clock=clock,
        notifier=notifier,
        gateways_for=gateways_for,
        service=RestoreService(store.jobs, store.audit, gateways_for, policy, clock),
        engine=Engine(
            store.jobs, gateways_for, policy, notifier, clock, settings.poll_seconds, aws_requests=aws_requests.drain
        ),
        clients_for=clients_for,
        sandbox_sql=sandbox_sql,
        audit_shipper=shipper,
        sql_connect_for=connector,
    )


def audit_shipper(policy: Policy, store: SqlStore, clock: Clock) -> AuditShipper | None:
    """The shipper of rdsbot's own trail to s3://<audit bucket>/<prefix>/rdsbot/, with its own S3 client."""
    audit = policy.audit
    if not audit.bucket:
        return None
    sink = S3AuditSink(audit_s3_client(policy.region.default), audit.bucket, audit.kms_key_id)
    return AuditShipper(store.outbox, store.audit, store.jobs, sink, audit.prefix, clock)


def default_sandbox_state(database_url: str) -> Path | None:
    """Keep the sandbox SQL Server's state beside a SQLite job store, so a restarted bot finds its tasks."""
    if database_url.startswith("sqlite:///") and len(database_url) > len("sqlite:///"):
        return Path(database_url.removeprefix("sqlite:///")).with_suffix(".sandbox.json")
    return None


# Chat commands: the same for Slack and the console.


def build_commands(app: Rdsbot, directory: AdminDirectory | None = None) -> ChatCommands:
    """Commands over the wired app; approvers come from the admin IAM group unless a directory is given."""
    if directory is None:
        iam = app.clients_for(app.policy.region.default).iam
        directory = IamAdminDirectory(iam, app.policy.approvals.admin_iam_group)
    store = app.store
    authorizer = Authorizer(directory, app.policy)
    decisions = Decisions(
        store.jobs, store.approvals, store.audit, authorizer, app.policy, app.clock, wake_engine=app.engine.wake.set
    )
    return ChatCommands(
        policy=app.policy,
        clock=app.clock,
        service=app.service,
        decisions=decisions,
        jobs=store.jobs,
        approvals=store.approvals,
        audit_log=store.audit,
    )


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


# Slack: the Web API client, the approver directory, commands, drills and the Bolt app, in that order.


@dataclass
class SlackRuntime:
    bolt: App
    client: WebClient
    commands: ChatCommands
    notifier: SlackNotifier
    outbox: SlackOutbox
    lane: SlowLane
    drills: Drills  # started by `rdsbot serve`; scheduling only where the leader election says


def build_slack_app(app: Rdsbot, directory: AdminDirectory | None = None) -> SlackRuntime:
    settings = app.settings
    if settings.slack_bot_token is None or settings.slack_signing_secret is None:
        raise ConfigError("SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET must be set to serve Slack")
    client = slack_web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    usergroup = app.policy.approvals.admin_slack_usergroup
    if directory is None and usergroup:
        directory = SlackUsergroupDirectory(client, usergroup)
    commands = build_commands(app, directory)
    outbox = SlackOutbox()
    notifier = SlackNotifier(client, outbox, app.store.chat_threads)
    app.notifier.add(notifier)
    lane = SlowLane(workers=2)
    drills = build_drills(app, SlackDrillReporter(client, outbox), commands)
    signing_secret = settings.slack_signing_secret.get_secret_value()
    doctor = DoctorCommand(commands.decisions.authorizer, build_doctor(settings, slack_client=client).run)
    bolt = bolt_app(client, signing_secret, commands, drills.commands, notifier, lane, doctor)
    return SlackRuntime(
        bolt=bolt, client=client, commands=commands, notifier=notifier, outbox=outbox, lane=lane, drills=drills
    )


# rdsbot doctor: read-only checks of the settings, store, AWS account and Slack workspace.


def build_doctor(settings: Settings | None = None, *, slack_client: Any = None, no_slack: str | None = None) -> Doctor:
    """The checks, in report order; settings or a policy that do not load are the report's one FAIL line."""
    try:
        settings = settings or load_settings()
        policy = load_policy(settings.config)
    except ConfigError as exc:
        problem = fail("settings", "load", "settings and policy", str(exc), "fix the variable or policy key named")
        return Doctor([("settings", lambda: [problem])])
    loaded = ok("settings", "settings and policy", str(settings.config or EXAMPLE_POLICY), "loaded and valid")
    clients_for = cache(lambda region: make_clients(region, max_attempts=1))
    checks: list[tuple[str, Check]] = [
        ("settings", lambda: [loaded, *policy_consistency(policy)]),
        ("settings", lambda: store_at_head(settings.database_url)),
        ("network", lambda: cidr_widths(policy)),
        *account_checks(clients_for, policy),
    ]
    if slack_client is None and no_slack is None and settings.slack_bot_token is not None:
        slack_client = slack_web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    if slack_client is not None:
        checks += slack_checks(slack_client, policy)
    else:
        reason = no_slack or "SLACK_BOT_TOKEN is not set"
        checks.append(("slack", lambda: skipped(reason)))
    return Doctor(checks, clients_for)
