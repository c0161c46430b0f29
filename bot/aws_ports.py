"""The AWS side of the ports: what the stages ask of AWS (and of SQL Server inside a restored instance), as specs
and gateway Protocols; aws/ implements them over boto3 and python-tds, tests/unit/fakes.py in memory. Split from
bot/ports.py, which re-exports every name, so `from bot.ports import NativeRestore` keeps working.

Every `ensure_*` is idempotent: it looks up by a deterministic name before creating, and returns what exists.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from bot.aws_values import OptionGroupState
from bot.backup_target import BackupGrant, BackupTarget
from bot.domain import BackupLocation, BackupSet, InstanceState, NetworkPlacement, TaskStatus
from bot.orderable import OrderableOptions
from bot.restore_chain import ChainStep, ListedObject
from bot.role_evaluation import RoleGaps
from bot.role_needs import RoleNeeds
from bot.server_audit import ServerAuditSpec, ServerAuditState
from bot.tde import StoredObject, TdeCertificate


class NetworkSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    vpc_id: str | None = None  # None: the region's default VPC
    subnet_ids: tuple[str, ...] = ()  # empty: every default-for-AZ subnet of the VPC
    # Where rdsbot runs: security group ids (sg-...) and/or CIDRs; it logs in on `port` to run the restore.
    bot_sources: tuple[str, ...] = ()
    allowed_source_security_groups: tuple[str, ...] = ()
    allowed_cidrs: tuple[str, ...] = ()
    port: int = 1433


class RolePlacement(BaseModel):
    """Where rdsbot's IAM roles live: under their own path, capped by a permissions boundary when configured."""

    model_config = ConfigDict(frozen=True)

    path: str = "/rdsbot/"
    permissions_boundary_arn: str | None = None
    # RDS resources (relative to arn:<partition>:rds:*:<account>:) that may make RDS assume the role: the trust
    # policy's aws:SourceArn. Instance names are the requester's choice (--name), so any instance; option groups
    # are always rdsbot's own.
    source_resources: tuple[str, ...] = ("db:*", "og:rdsbot-*")


class RoleSpec(BaseModel):
    """The role in SQLSERVER_BACKUP_RESTORE: read the backup buckets, never write them."""

    model_config = ConfigDict(frozen=True)

    role_name: str
    backup_buckets: tuple[str, ...]
    kms_key_arns: tuple[str, ...] = ()
    placement: RolePlacement = RolePlacement()
    tde: bool = False  # rds_restore_tde_certificate also needs s3:GetBucketAcl and s3:ListAllMyBuckets


class AuditRoleSpec(BaseModel):
    """The role in SQLSERVER_AUDIT: put audit files under one key prefix of the audit bucket, nothing else."""

    model_config = ConfigDict(frozen=True)

    role_name: str
    bucket: str
    key_prefix: str  # no leading or trailing slash
    placement: RolePlacement = RolePlacement()


class OptionGroupSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    engine: str  # sqlserver-se ...
    major_version: str  # 15.00
    role_arn: str
    audit_s3_bucket_arn: str | None  # arn:aws:s3:::bucket/prefix; None: no SQLSERVER_AUDIT
    audit_role_arn: str | None = None  # the role in SQLSERVER_AUDIT; never the restore role
    audit_retention_hours: int = 0
    audit_compression: bool = True  # ENABLE_COMPRESSION: .zip files (RDS's default) or plain .sqlaudit
    tde: bool = False  # the TDE option too (persistent: such a group is never one non-TDE restores share)


class OptionGroupCopySpec(BaseModel):
    """An --into instance's new option group: `source`'s options (none when it is None or a default group) plus
    SQLSERVER_BACKUP_RESTORE naming `role_arn`, for the source's engine and major version."""

    model_config = ConfigDict(frozen=True)

    name: str
    source: str | None
    engine: str  # sqlserver-se ...
    major_version: str  # 15.00
    role_arn: str


class EnsuredOptionGroup(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    created: bool  # this call created it (a job records what it leaves behind; drills clean up what they made)


class InstanceSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    instance_id: str
    instance_class: str
    engine: str
    engine_version: str  # exact, or the major alone (RDS picks its default of it): never RDS's default major
    license_model: str
    storage_type: str
    allocated_storage_gb: int
    iops: int | None = None
    storage_throughput: int | None = None
    cores: int | None = None
    threads_per_core: int | None = None
    multi_az: bool = False
    kms_key_id: str | None = None
    subnet_group_name: str
    security_group_ids: tuple[str, ...]
    option_group_name: str
    master_username: str = "rdsadmin_restore"
    tags: dict[str, str] = Field(default_factory=dict)


class BackupStore(Protocol):
    def resolve(self, location: BackupLocation, default_bucket: str | None) -> BackupSet:
        """The object(s) behind a location; RequestError(field='backup') when missing or more than 10 files."""
        ...

    def latest_backup(self, bucket: str, prefix: str) -> BackupSet | None: ...

    def list_objects(self, bucket: str, prefix: str) -> list[ListedObject]:
        """Every object under the prefix with its LastModified (a --chain request picks its files from them)."""
        ...

    def read_object(self, bucket: str, key: str) -> bytes:
        """A small object's bytes (a TDE certificate file, checked to be small by head_object first)."""
        ...

    def head_object(self, bucket: str, key: str, field: str) -> StoredObject:
        """One object's bucket region, SSE-KMS key and metadata names (never values); RequestError(field) if absent."""
        ...

    def console_url(self, bucket: str, key_or_prefix: str) -> str: ...

    def bucket_region(self, bucket: str) -> str:
        """The bucket's region; RequestError when it does not exist."""
        ...

    def existing_objects(self, bucket: str, keys: tuple[str, ...]) -> dict[str, int]:
        """Those of `keys` that exist (HeadObject), with their sizes in bytes: a backup's destination."""
        ...

    def presigned_url(self, bucket: str, key: str, expires_seconds: int = 900) -> str: ...


class AccountIdentity(Protocol):
    def account_id(self) -> str:
        """The AWS account the bot runs as (sts:GetCallerIdentity), asked once and remembered."""
        ...


class NetworkGateway(Protocol):
    def ensure_placement(self, spec: NetworkSpec) -> NetworkPlacement: ...


class RoleGateway(Protocol):
    def ensure_restore_role(self, spec: RoleSpec) -> str:
        """The role's ARN."""
        ...

    def ensure_audit_role(self, spec: AuditRoleSpec) -> str:
        """The role's ARN."""
        ...

    def grant_backup_writes(self, role_arn: str, grant: BackupGrant) -> None:
        """Let a role rdsbot manages write one backup destination (an inline policy per destination); idempotent."""
        ...

    def missing_permissions(self, role_arn: str, needs: RoleNeeds) -> RoleGaps | None:
        """What a role rdsbot does not manage lacks of `needs` (e.g. to write a backup destination or import a TDE
        certificate): denied, or unconfirmed where a key or bucket policy may grant it; None when IAM cannot answer."""
        ...


class OptionGroupGateway(Protocol):
    def ensure_option_group(self, spec: OptionGroupSpec) -> EnsuredOptionGroup:
        """The option group, and whether this call created it."""
        ...

    def describe(self, name: str) -> OptionGroupState | None:
        """The group's options and its SQLSERVER_BACKUP_RESTORE role; None when there is no such group."""
        ...

    def ensure_copy(self, spec: OptionGroupCopySpec) -> EnsuredOptionGroup:
        """The copy with SQLSERVER_BACKUP_RESTORE, created or brought in line; never changes `spec.source`."""


class InstanceGateway(Protocol):
    def find(self, instance_id: str) -> InstanceState | None: ...

    def create(self, spec: InstanceSpec) -> InstanceState: ...

    def describe_many(self, instance_ids: list[str]) -> dict[str, InstanceState]:
        """One DescribeDBInstances call for all the ids (missing ids are absent from the result)."""
        ...

    def orderable_options(
        self, engine: str, *, engine_version: str | None = None, instance_class: str | None = None
    ) -> OrderableOptions:
        """Every (class, version) pair RDS can order for the engine here, of the version or class given, in one
        listing (empty when none)."""
        ...

    def delete(self, instance_id: str, final_snapshot_id: str | None = None) -> None:
        """Delete the instance, with a final snapshot of that name when given; gone or going counts as done."""
        ...

    def apply_option_group(self, instance_id: str, option_group: str) -> None:
        """ModifyDBInstance OptionGroupName, applied immediately (an --into instance's new option group)."""
        ...


class NativeRestore(Protocol):
    """msdb.dbo.rds_restore_database and friends, on a running instance."""

    def start_restore(
        self, instance: InstanceState, database_name: str, s3_arn: str, kms_key_arn: str | None = None
    ) -> int:
        """The task id."""
        ...

    def find_task(self, instance: InstanceState, database_name: str) -> TaskStatus | None:
        """The newest restore task for that database, so a resumed job never starts a second one."""
        ...

    def task_status(self, instance: InstanceState, task_id: int) -> TaskStatus: ...

    def cancel(self, instance: InstanceState, task_id: int) -> None: ...

    def tasks_for(self, instance: InstanceState, database_name: str) -> list[TaskStatus]:
        """Every task RDS remembers on that database (rds_task_status @db_name): a chain finds its sent steps."""
        ...

    def start_chain_step(
        self, instance: InstanceState, database_name: str, step: ChainStep, kms_key_arn: str | None = None
    ) -> int:
        """Send one step of a restore chain (bot/restore_chain.py); the task id."""
        ...

    def database_exists(self, instance: InstanceState, database_name: str) -> bool:
        """A database of that name (compared as SQL Server does, case-insensitively) exists, restoring or not."""
        ...

    def drop_database(self, instance: InstanceState, database_name: str) -> None:
        """rds_drop_database: an --into --replace drops the old database before restoring over it."""
        ...

    def database_state(self, instance: InstanceState, database_name: str) -> str | None:
        """sys.databases.state_desc (ONLINE, RESTORING, ...) of that database; None when there is none."""
        ...

    def start_backup(
        self, instance: InstanceState, database_name: str, target: BackupTarget, kms_key_arn: str | None
    ) -> int:
        """rds_backup_database to the target; the task id."""
        ...

    def user_tde_certificates(self, instance: InstanceState) -> dict[str, str]:
        """Name -> thumbprint of the user TDE certificates the instance holds (rds_fn_list_user_tde_certificates())."""
        ...

    def restore_tde_certificate(self, instance: InstanceState, certificate: TdeCertificate) -> None:
        """rds_restore_tde_certificate: import the certificate a TDE-encrypted backup needs."""
        ...


class ServerAuditGateway(Protocol):
    """The SQL Server Audit inside a running instance: the server audit and its specification, switched on."""

    def ensure_server_audit(self, instance: InstanceState, spec: ServerAuditSpec) -> ServerAuditState:
        """Create what is missing, switch both on, and return what the status views show; idempotent."""
        ...
