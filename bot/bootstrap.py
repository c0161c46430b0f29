"""The one place that builds settings, policy, store, AWS gateways, the SQL driver and the notifier.

Everything else receives what it needs from here, so tests can swap any piece for a fake.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws.audit_shipper import S3AuditSink, audit_s3_client
from aws.clients import AwsClients, make_clients
from aws.iam import RestoreRoles
from aws.instances import Instances
from aws.native_restore import SqlNativeRestore, tds_connector
from aws.network import Network
from aws.option_groups import OptionGroups
from aws.request_ids import MutatingCallLog
from aws.s3 import S3Backups
from aws.secrets import master_credentials
from bot.audit_outbox import AuditRecordLinks, AuditShipper
from bot.clock import Clock, SystemClock
from bot.domain import InstanceState
from bot.leader import ENGINE_LOCK_KEY, LeaderElector
from bot.notifiers import FanoutNotifier
from bot.service import RestoreService
from bot.stages import Gateways
from bot.store import JobStore
from bot.workflow import Engine
from config.policy_model import Policy, load_policy
from config.settings import Settings

if TYPE_CHECKING:
    from aws.sandbox.sql_server import SandboxSqlServer


@dataclass
class Rdsbot:
    """The wired application."""

    settings: Settings
    policy: Policy
    store: JobStore
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
    store = JobStore(settings.database_url)
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
        service=RestoreService(store, gateways_for, policy, clock),
        engine=Engine(
            store, gateways_for, policy, notifier, clock, settings.poll_seconds, aws_requests=aws_requests.drain
        ),
        clients_for=clients_for,
        sandbox_sql=sandbox_sql,
        audit_shipper=shipper,
        sql_connect_for=connector,
    )


def audit_shipper(policy: Policy, store: JobStore, clock: Clock) -> AuditShipper | None:
    """The shipper of rdsbot's own trail to s3://<audit bucket>/<prefix>/rdsbot/, with its own S3 client."""
    audit = policy.audit
    if not audit.bucket:
        return None
    sink = S3AuditSink(audit_s3_client(policy.region.default), audit.bucket, audit.kms_key_id)
    return AuditShipper(store, sink, audit.prefix, clock)


def default_sandbox_state(database_url: str) -> Path | None:
    """Keep the sandbox SQL Server's state beside a SQLite job store, so a restarted bot finds its tasks."""
    if database_url.startswith("sqlite:///") and len(database_url) > len("sqlite:///"):
        return Path(database_url.removeprefix("sqlite:///")).with_suffix(".sandbox.json")
    return None
