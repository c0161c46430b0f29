"""What a restore is: requests, jobs, stages and the values the AWS ports exchange. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Re-exported (the `as` form tells mypy so): callers take every domain type from here; the list lives apart.
from bot.audit_actions import AuditAction as AuditAction
from bot.audit_surface import AuditSurface, current_surface
from bot.aws_values import (
    BackupSet as BackupSet,
    InstanceState as InstanceState,
    NetworkPlacement as NetworkPlacement,
    TaskLifecycle as TaskLifecycle,
    TaskStatus as TaskStatus,
)
from bot.backup_target import BackupTarget
from bot.into_target import IntoTarget
from bot.job_outputs import EngineBookkeeping as EngineBookkeeping, StageOutputs as StageOutputs
from bot.restore_chain import RestoreChain
from bot.tde import TdeCertificate


class Edition(StrEnum):
    """SQL Server editions RDS offers; the value is the RDS engine name."""

    EXPRESS = "sqlserver-ex"
    WEB = "sqlserver-web"
    STANDARD = "sqlserver-se"
    ENTERPRISE = "sqlserver-ee"

    @classmethod
    def parse(cls, text: str) -> Edition:
        """Accept `se`, `sqlserver-se`, `standard` and the like."""
        short = {
            "ex": cls.EXPRESS,
            "express": cls.EXPRESS,
            "web": cls.WEB,
            "se": cls.STANDARD,
            "standard": cls.STANDARD,
            "ee": cls.ENTERPRISE,
            "enterprise": cls.ENTERPRISE,
        }
        key = text.strip().lower()
        if key in short:
            return short[key]
        return cls(key)

    @property
    def short(self) -> str:
        return self.value.removeprefix("sqlserver-")


class StorageType(StrEnum):
    GP2 = "gp2"
    GP3 = "gp3"
    IO1 = "io1"
    IO2 = "io2"


class BackupLocation(BaseModel):
    """Where the .bak lives. `bucket` None: the policy's default bucket; `multi_file`: key is a prefix + `*`."""

    model_config = ConfigDict(frozen=True)

    bucket: str | None = None
    key: str
    multi_file: bool = False

    def display(self, default_bucket: str | None = None) -> str:
        bucket = self.bucket or default_bucket or "<default bucket>"
        return f"s3://{bucket}/{self.key}{'*' if self.multi_file else ''}"


class RestoreRequest(BaseModel):
    """A parsed restore request; fields left None take the policy's defaults when the job is planned."""

    model_config = ConfigDict(frozen=True)

    backup: BackupLocation
    instance_class: str | None = None  # None only with --into (the existing instance keeps its class)
    target_instance_id: str | None = None
    into_instance_id: str | None = None  # --into: restore onto this existing instance
    replace: bool = False  # --replace: drop a database of that name there first (--into only)
    database_name: str | None = None
    edition: Edition | None = None
    storage_type: StorageType | None = None
    allocated_storage_gb: int | None = None
    iops: int | None = None
    storage_throughput: int | None = None
    cores: int | None = None
    threads_per_core: int | None = None
    multi_az: bool = False
    region: str | None = None
    major_version: str | None = None
    # Two keys RDS keeps apart: the one a client-side encrypted .bak was made with (@kms_master_key_arn of
    # rds_restore_database), and the instance's storage key (KmsKeyId). The bucket's SSE-KMS key is a third,
    # discovered from the backup object itself (RestorePlan.bucket_kms_key_arns).
    backup_kms_key_arn: str | None = None
    storage_kms_key_arn: str | None = None
    reason: str | None = None  # why the requester needs the restore, for the approver (--reason "...")
    keep: timedelta | None = None  # --keep: how long the instance lives after the restore completes
    dry_run: bool = False
    # A chain after the full backup (bot/restore_chain.py): --diff, --log (in order), --stop-at (UTC, @stopat form).
    diff: BackupLocation | None = None
    logs: tuple[BackupLocation, ...] = ()
    stop_at: str | None = None
    chain: bool = False  # --chain: `backup` is a prefix; the submit finds the full, differential and logs under it
    # A TDE-encrypted backup (bot/tde.py): the certificate, its private key and the KMS key of the key's password.
    tde_certificate: BackupLocation | None = None
    tde_private_key: BackupLocation | None = None
    tde_password_key_arn: str | None = None

    @property
    def destination(self) -> str:
        """Where it goes, for the acknowledgement: a new instance's class, or the existing instance."""
        return f"existing instance {self.into_instance_id}" if self.into_instance_id else str(self.instance_class)


class RestorePlan(BaseModel):
    """A request with every default filled in and every name decided; what the stages execute."""

    model_config = ConfigDict(frozen=True)

    backup_bucket: str
    backup_key: str
    multi_file: bool
    instance_class: str
    target_instance_id: str
    database_name: str
    edition: Edition
    major_version: str
    engine_version: str | None
    license_model: str
    storage_type: StorageType
    allocated_storage_gb: int
    iops: int | None
    storage_throughput: int | None
    cores: int | None
    threads_per_core: int | None
    multi_az: bool
    region: str
    backup_kms_key_arn: str | None = None  # @kms_master_key_arn: the key a client-side encrypted .bak was made with
    storage_kms_key_arn: str | None = None  # the instance's KmsKeyId
    # The SSE-KMS keys the backup object(s) are stored under, read from HeadObject by the preflight.
    bucket_kms_key_arns: tuple[str, ...] = ()
    reason: str | None = None  # the requester's words; user text, escaped wherever it is rendered
    warnings: tuple[str, ...] = ()
    # The keep window (bot/keep_window.py) and whether a final snapshot is taken at its end, decided when planned
    # so the approver sees them. None: a drill (its own cleanup), or a job planned before instances had a window,
    # which is never deleted by the lifecycle (an upgrade must not remove instances people rely on).
    keep_seconds: int | None = None
    final_snapshot: bool | None = None
    chain: RestoreChain | None = None  # restored WITH NORECOVERY after the full, then rds_finish_restore
    into: IntoTarget | None = None  # set: restore onto an existing instance (bot/into.py); nothing is created
    tde: TdeCertificate | None = None  # restored with rds_restore_tde_certificate before the database
    # set: the job is a /rds-backup of `database_name` on the existing `target_instance_id` (bot/backup_stages.py);
    # the instance fields are the live instance's, and nothing is created but the S3 object(s).
    backup: BackupTarget | None = None

    @property
    def kind(self) -> JobKind:
        return JobKind.BACKUP if self.backup is not None else JobKind.RESTORE

    @model_validator(mode="before")
    @classmethod
    def _one_key_of_old(cls, data: Any) -> Any:
        # Plans stored before the keys were split carry one `kms_key_id` that did all three jobs.
        if isinstance(data, dict) and "kms_key_id" in data:
            data = dict(data)
            old = data.pop("kms_key_id")
            if old:
                data.setdefault("backup_kms_key_arn", old)
                data.setdefault("storage_kms_key_arn", old)
        return data

    @property
    def keep(self) -> timedelta | None:
        return None if self.keep_seconds is None else timedelta(seconds=self.keep_seconds)

    @property
    def role_kms_key_arns(self) -> tuple[str, ...]:
        """The keys the restore role uses: the backup's own, the bucket's, a TDE password key; never the storage key."""
        keys = [*([self.backup_kms_key_arn] if self.backup_kms_key_arn else []), *self.bucket_kms_key_arns]
        if self.tde is not None:  # RDS decrypts the .pvk's password with it, as the restore role
            keys.append(self.tde.password_key_arn)
        return tuple(sorted(set(keys)))

    @property
    def s3_arn(self) -> str:
        """The ARN rds_restore_database reads; a multi-file set is its common prefix followed by `*`."""
        return f"arn:aws:s3:::{self.backup_bucket}/{self.backup_key}{'*' if self.multi_file else ''}"


class JobKind(StrEnum):
    """What a job does: the discriminator the engine, card, progress, status and audit read (RestorePlan.kind)."""

    RESTORE = "restore"
    BACKUP = "backup"


class StageName(StrEnum):
    """Every stage of either kind of job; STAGE_ORDER and BACKUP_STAGE_ORDER say which run, in which order."""

    VALIDATE = "validate"
    NETWORK = "network"
    RESTORE_ROLE = "restore_role"
    OPTION_GROUP = "option_group"
    INSTANCE = "instance"
    RESTORE_START = "restore_start"
    RESTORE_WAIT = "restore_wait"
    BACKUP_START = "backup_start"
    BACKUP_WAIT = "backup_wait"
    FINALIZE = "finalize"


STAGE_ORDER: tuple[StageName, ...] = (
    StageName.VALIDATE,
    StageName.NETWORK,
    StageName.RESTORE_ROLE,
    StageName.OPTION_GROUP,
    StageName.INSTANCE,
    StageName.RESTORE_START,
    StageName.RESTORE_WAIT,
    StageName.FINALIZE,
)
BACKUP_STAGE_ORDER: tuple[StageName, ...] = (
    StageName.VALIDATE,
    StageName.BACKUP_START,
    StageName.BACKUP_WAIT,
    StageName.FINALIZE,
)
# The stages that wait on an rds_* task: progress percent, and the task a cancel stops.
TASK_WAIT_STAGES = frozenset({StageName.RESTORE_WAIT, StageName.BACKUP_WAIT})


def stage_order(kind: JobKind) -> tuple[StageName, ...]:
    return BACKUP_STAGE_ORDER if kind == JobKind.BACKUP else STAGE_ORDER


class StageStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class JobStatus(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self not in _UNFINISHED


_UNFINISHED = frozenset({JobStatus.AWAITING_APPROVAL, JobStatus.QUEUED, JobStatus.RUNNING})


# What a compare-and-set transition accepts as the current status: one, or any of several.
ExpectedStatus = JobStatus | AbstractSet[JobStatus]


class Stage(BaseModel):
    name: StageName
    status: StageStatus = StageStatus.PENDING
    started_at: datetime | None = None
    finished_at: datetime | None = None
    detail: str = ""
    error: str | None = None

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class Job(BaseModel):
    """A restore job: its plan, where it is, and what it has created (so a cleanup knows what to remove)."""

    id: str
    requester: str
    plan: RestorePlan
    status: JobStatus = JobStatus.QUEUED
    stages: list[Stage] = Field(default_factory=list)
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    outputs: StageOutputs = Field(default_factory=StageOutputs)
    engine: EngineBookkeeping = Field(default_factory=EngineBookkeeping)
    # Resources this job created (kind -> identifier); shared resources it merely reused are not listed.
    created_resources: dict[str, str] = Field(default_factory=dict)
    is_drill: bool = False
    percent_complete: int = 0
    # Who asked to cancel; set only through the store's request_cancel, read by the engine at each step.
    cancel_requested_by: str | None = None

    @property
    def kind(self) -> JobKind:
        return self.plan.kind

    @property
    def withdrawn(self) -> bool:
        """Cancelled before approval: a decision, not the engine's finish (the engine cancels only what
        request_cancel asked for, which names who asked)."""
        return self.status == JobStatus.CANCELLED and self.cancel_requested_by is None

    @model_validator(mode="before")
    @classmethod
    def _stages_of_its_kind(cls, data: Any) -> Any:
        # A new job gets its kind's stage table; a stored one keeps the stages it was saved with.
        if isinstance(data, dict) and "stages" not in data:
            plan = data.get("plan")
            backup = plan.backup if isinstance(plan, RestorePlan) else (plan or {}).get("backup")
            kind = JobKind.BACKUP if backup is not None else JobKind.RESTORE
            data = {**data, "stages": [Stage(name=n) for n in stage_order(kind)]}
        return data

    def stage(self, name: StageName) -> Stage:
        return next(s for s in self.stages if s.name == name)

    @property
    def current_stage(self) -> Stage | None:
        """The first stage not yet succeeded, or None when all have."""
        return next((s for s in self.stages if s.status != StageStatus.SUCCEEDED), None)


# Values exchanged with the AWS ports.


class ApprovalDecision(StrEnum):
    """What an approver said about a job (or its requester, or an admin, withdrawing it before approval)."""

    APPROVED = "approved"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"


class Approval(BaseModel):
    """One approver's decision on a job; a job may collect several (two-person rule)."""

    model_config = ConfigDict(frozen=True)

    id: int | None = None
    job_id: str
    actor: str
    decision: ApprovalDecision
    reason: str | None = None
    at: datetime


class AuditEvent(BaseModel):
    """An append-only record of something that happened: who, what, to which job, with which outcome."""

    id: int | None = None
    at: datetime
    actor: str
    action: AuditAction
    job_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    iam_user: str | None = None  # the IAM user the actor's Slack id maps to, where the directory told us
    # Where it came in (bot/audit_surface.py); None on events recorded before surfaces were (they hash as before).
    surface: AuditSurface | None = Field(default_factory=current_surface)
    # Filled by the store when it appends the event to its day's hash chain (see bot/audit_chain.py).
    day: str | None = None
    seq: int | None = None
    prev_hash: str | None = None
    hash: str | None = None
