"""What every stage is handed (the region's gateways, the policy, one tick's instance states) and what it
answers: Done, or Waiting with a detail and maybe a percent. No boto3 here."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain import InstanceState
from bot.ports import (
    AccountIdentity,
    BackupStore,
    InstanceGateway,
    NativeRestore,
    NetworkGateway,
    OptionGroupGateway,
    RoleGateway,
    ServerAuditGateway,
)
from config.policy_model import Policy


@dataclass(frozen=True)
class Gateways:
    """The AWS side of one region, as ports."""

    backups: BackupStore
    network: NetworkGateway
    roles: RoleGateway
    option_groups: OptionGroupGateway
    instances: InstanceGateway
    native_restore: NativeRestore
    identity: AccountIdentity
    server_audit: ServerAuditGateway


@dataclass(frozen=True)
class Done:
    detail: str = ""


@dataclass(frozen=True)
class Waiting:
    detail: str
    percent: int | None = None


StepResult = Done | Waiting


@dataclass
class StageContext:
    gateways: Gateways
    policy: Policy
    # One batched DescribeDBInstances per engine tick feeds every job waiting on an instance.
    instance_states: dict[str, InstanceState] = field(default_factory=dict)
