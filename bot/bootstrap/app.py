"""The wired application: settings -> policy, store, AWS gateways, SQL driver, notifier, engine; the chat
commands over them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws.admin_directory import IamAdminDirectory
from aws.audit_shipper import ObjectRetention, S3AuditSink, audit_s3_client
from aws.call_errors import CallErrorCounter
from aws.clients import AwsClients, make_clients
from aws.console_identity import console_identity
from aws.drill_resources import DrillCleanupGateway
from aws.iam import RestoreRoles
from aws.identity import CallerIdentity
from aws.instances import Instances
from aws.native_restore import SqlNativeRestore, tds_connector
from aws.native_restore.server_audit import SqlServerAudit
from aws.native_restore.tds import tls_cafile
from aws.network import Network
from aws.option_groups import OptionGroups
from aws.request_ids import MutatingCallLog
from aws.s3 import S3Backups
from aws.secrets import master_credentials
from bot.approvals import Decisions
from bot.audit_outbox import AuditRecordLinks, AuditShipper
from bot.authz import Authorizer
from bot.clock import Clock, SystemClock
from bot.commands import ChatCommands
from bot.domain import InstanceState
from bot.errors import ConfigError
from bot.expiry import ExpirySweeper
from bot.leader import ENGINE_LOCK_KEY, LeaderElector
from bot.lifecycle.commands import LifecycleCommands
from bot.lifecycle.runner import LifecycleRunner
from bot.metrics import Metrics
from bot.notifiers import FanoutNotifier
from bot.ports import AdminDirectory, DrillResources
from bot.service import RestoreService
from bot.stages import Gateways
from bot.store import SqlStore
from bot.workflow import Engine
from config.policy_model import Policy, load_policy
from config.settings import Settings, require_loopback_aws_for_sandbox

if TYPE_CHECKING:
    from aws.sandbox.sql_server import SandboxSqlServer

log = logging.getLogger(__name__)


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
    # Who uses which option, subnet and security group, and deleting them: drill cleanup and instance lifecycle.
    resources_for: Callable[[str], DrillResources]
    # Deletes every restore's instance when its keep window ends; driven on the restore engine's leader only.
    lifecycle: LifecycleRunner
    sandbox_sql: SandboxSqlServer | None = None
    # Ships the audit trail to the policy's audit bucket; None when the policy names no audit bucket.
    audit_shipper: AuditShipper | None = None
    # region -> connect(instance): the SQL driver the restore uses, for drill validation queries.
    sql_connect_for: Callable[[str], Callable[[InstanceState], Any]] | None = None
    # Set by start_background: the restore engine's leader election, let go on shutdown, and the loops' stop.
    engine_elector: LeaderElector | None = None
    background_stop: threading.Event | None = None
    # Fed by the engine (as a notifier) and by every AWS client; served at GET /metrics by `rdsbot serve`.
    metrics: Metrics = field(default_factory=Metrics)

    def start_background(self) -> threading.Event:
        """The engine loop, and the audit shipper when configured, in daemon threads; set the event to stop both."""
        elector = LeaderElector(
            self.settings.database_url, self.engine.wake.set, lambda: None, key=ENGINE_LOCK_KEY, role="restore engine"
        )
        self.engine.is_leader = lambda: elector.is_leader
        self.engine_elector = elector
        elector.step()  # elect now, so a single replica starts at once
        elector.start()
        stop = self.engine.start_background()
        threading.Thread(
            target=self.lifecycle.run_forever,
            args=(stop, lambda: elector.is_leader, max(0.05, self.settings.poll_seconds)),
            name="lifecycle",
            daemon=True,
        ).start()
        self.background_stop = stop

        def step_down_on_stop() -> None:
            stop.wait()
            elector.stop()

        threading.Thread(target=step_down_on_stop, name="engine-leader-stop", daemon=True).start()
        if self.audit_shipper is not None:
            self.audit_shipper.start_background(stop, max(1.0, self.settings.poll_seconds))
        return stop

    def stop_background(self, timeout: float) -> bool:
        """Shutdown: the engine's step in flight finishes, its leader lock is let go, the audit trail ships once
        more; True when the engine stopped within `timeout` (else its job resumes from the saved step anyway)."""
        stopped = self.engine.stop(timeout)
        if self.background_stop is not None:
            self.background_stop.set()  # the audit shipper's loop, after its pass in flight
        if self.engine_elector is not None:
            self.engine_elector.stop()
        if self.audit_shipper is not None:
            try:
                self.audit_shipper.ship_pending()
            except Exception:  # S3 unreachable: the events stay in the outbox and ship after the restart
                log.warning("audit trail not shipped at shutdown; it ships after the restart", exc_info=True)
        return stopped

    def close(self) -> None:
        self.store.close()


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    sandbox_sql: SandboxSqlServer | None = None,
    sql_server: bool = True,
) -> Rdsbot:
    """Wire rdsbot from settings; `sandbox_sql` lets several engines share one emulated SQL Server; `sql_server`
    False for a command that never logs in to an instance (`rdsbot audit`), which then needs no TLS settings."""
    require_loopback_aws_for_sandbox(settings)
    policy = load_policy(settings.config)
    tds = settings.sqlserver_driver == "tds" and sandbox_sql is None and sql_server
    # Checked at start: a missing CA bundle must stop the bot, not fail the first restore an hour in.
    cafile = tls_cafile(settings.sqlserver_tls == "on", settings.sqlserver_ca_file) if tds else None
    store = SqlStore(settings.database_url)
    clock = clock or SystemClock()
    clients: dict[str, AwsClients] = {}
    aws_requests = MutatingCallLog()
    metrics = Metrics()
    call_errors = CallErrorCounter(metrics.aws_error)

    def clients_for(region: str) -> AwsClients:
        if region not in clients:
            clients[region] = make_clients(region)
            for client in clients[region].all().values():
                aws_requests.attach(client)
                call_errors.attach(client)
        return clients[region]

    if settings.sqlserver_driver == "sandbox" and sandbox_sql is None:
        # Here, so production paths never load the emulator.
        from aws.sandbox.sql_server import SecurityGroupReachability, embedded_sql_server

        bot_source = settings.sandbox_bot_source or next(iter(policy.network.bot_sources), None)
        sandbox_sql = embedded_sql_server(
            clients_for(policy.region.default).s3,
            restore_seconds=settings.sandbox_restore_seconds,
            state_path=settings.sandbox_state_path or default_sandbox_state(settings.database_url),
            network=SecurityGroupReachability.in_region(policy.region.default, bot_source),
            region=policy.region.default,
        )

    def connector(region: str) -> Callable[[InstanceState], Any]:
        if sandbox_sql is not None:
            return sandbox_sql.connect
        if not sql_server:
            return _no_sql_server
        secrets = clients_for(region).secretsmanager

        def credentials_for(instance: InstanceState) -> tuple[str, str]:
            if not instance.master_secret_arn:
                raise ValueError(f"{instance.instance_id} has no RDS-managed master secret")
            return master_credentials(secrets, instance.master_secret_arn)

        return tds_connector(credentials_for, cafile=cafile)

    @cache
    def gateways_for(region: str) -> Gateways:
        aws = clients_for(region)
        identity = CallerIdentity(aws.sts)  # one GetCallerIdentity per region, for the roles and the key checks
        return Gateways(
            backups=S3Backups(aws.s3),
            network=Network(aws.ec2, aws.rds),
            roles=RestoreRoles(aws.iam, identity),
            option_groups=OptionGroups(aws.rds),
            instances=Instances(aws.rds),
            native_restore=SqlNativeRestore(connector(region)),
            identity=identity,
            server_audit=SqlServerAudit(connector(region)),
        )

    @cache
    def resources_for(region: str) -> DrillResources:
        aws = clients_for(region)
        return DrillCleanupGateway(aws.rds, aws.ec2)

    shipper = audit_shipper(policy, store, clock)
    # The record links go first: they must be on the job before chat renders its completion.
    notifier = FanoutNotifier(*([AuditRecordLinks(shipper)] if shipper else []), metrics)
    if settings.sqlserver_driver == "sandbox" and settings.sandbox_hold_finish:
        from aws.sandbox.finish_hold import HoldFinish  # here, so production paths never load the sandbox

        notifier.listeners.insert(0, HoldFinish())
    engine = Engine(
        store.jobs, gateways_for, policy, notifier, clock, settings.poll_seconds, aws_requests=aws_requests.drain
    )
    # Requests lapse on the engine's loop, so only the elected replica expires them (and tells chat once).
    expiry = ExpirySweeper(store.jobs, notifier, policy, clock)
    engine.announcers.append(expiry)  # its untold expiries come from the tick's one read of the mark
    engine.chores.append(expiry.expire_due)
    return Rdsbot(
        settings=settings,
        policy=policy,
        store=store,
        clock=clock,
        notifier=notifier,
        gateways_for=gateways_for,
        service=RestoreService(store.jobs, store.audit, gateways_for, policy, clock),
        engine=engine,
        clients_for=clients_for,
        resources_for=resources_for,
        lifecycle=LifecycleRunner(
            policy,
            store.lifecycles,
            store.jobs,
            lambda region: gateways_for(region).instances,
            resources_for,
            notifier,
            clock,
        ),
        sandbox_sql=sandbox_sql,
        audit_shipper=shipper,
        sql_connect_for=connector,
        metrics=metrics,
    )


def real_console_user(app: Rdsbot) -> tuple[str, str]:
    """(IAM user, Slack id) of the console's operator on real AWS: the credentials' IAM user, by its tag."""
    clients = app.clients_for(app.policy.region.default)
    return console_identity(clients.sts, IamAdminDirectory(clients.iam, app.policy.approvals.admin_iam_group))


def _no_sql_server(instance: InstanceState) -> Any:
    raise ConfigError(
        f"this rdsbot command was started without a SQL Server driver; it cannot reach {instance.instance_id}"
    )


def audit_shipper(policy: Policy, store: SqlStore, clock: Clock) -> AuditShipper | None:
    """The shipper of rdsbot's own trail to s3://<audit bucket>/<prefix>/rdsbot/, with its own S3 client."""
    audit = policy.audit
    bucket = audit.shipping_bucket
    if not bucket:
        return None
    lock = audit.object_lock
    retention = ObjectRetention(lock.mode, lock.retention_days) if lock else None
    sink = S3AuditSink(audit_s3_client(policy.region.default), bucket, audit.kms_key_id, retention)
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
    lifecycle = LifecycleCommands(
        app.policy,
        store.lifecycles,
        store.jobs,
        store.audit,
        authorizer,
        app.notifier,
        app.clock,
        app.lifecycle.wake.set,
    )
    return ChatCommands(
        lifecycle=lifecycle,
        policy=app.policy,
        clock=app.clock,
        service=app.service,
        decisions=decisions,
        jobs=store.jobs,
        approvals=store.approvals,
        audit_log=store.audit,
    )
