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
from bot.into_target import IntoTarget
from bot.restore_chain import RestoreChain


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
        """The keys the restore role must use: the backup's own key and the bucket's, never the storage key."""
        keys = [*([self.backup_kms_key_arn] if self.backup_kms_key_arn else []), *self.bucket_kms_key_arns]
        return tuple(sorted(set(keys)))

    @property
    def s3_arn(self) -> str:
        """The ARN rds_restore_database reads; a multi-file set is its common prefix followed by `*`."""
        return f"arn:aws:s3:::{self.backup_bucket}/{self.backup_key}{'*' if self.multi_file else ''}"


class StageName(StrEnum):
    """The ordered stages of a restore; the order of this enum is the order they run in."""

    VALIDATE = "validate"
    NETWORK = "network"
    RESTORE_ROLE = "restore_role"
    OPTION_GROUP = "option_group"
    INSTANCE = "instance"
    RESTORE_START = "restore_start"
    RESTORE_WAIT = "restore_wait"
    FINALIZE = "finalize"


STAGE_ORDER: tuple[StageName, ...] = tuple(StageName)


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


class StageOutputs(BaseModel):
    """What the stages found or made that later stages, the completion message and drill cleanup read.

    Every field stays None until its stage (or, for the audit record, the job's end) sets it. The links to the
    job's audit record sit here rather than in a model of their own: they are stored with the outputs under the
    same flat keys as before, so rows already stored read back unchanged, and the completion message reads them
    next to the endpoint and console link.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    backup_files: int | None = None
    backup_bytes: int | None = None
    backup_last_modified: datetime | None = None  # S3's LastModified of the newest file: the card shows its age
    notes: tuple[str, ...] | None = None  # preflight remarks, e.g. an engine version RDS no longer offers
    vpc_id: str | None = None
    subnet_group: str | None = None
    security_group_id: str | None = None
    role_arn: str | None = None
    audit_role_arn: str | None = None  # the SQLSERVER_AUDIT role; None without an audit bucket
    option_group: str | None = None
    instance_arn: str | None = None
    endpoint: str | None = None  # host:port
    task_id: int | None = None  # the rds_restore_database task (of a chain: the current step's)
    chain_tasks: tuple[int, ...] | None = None  # a chain's task id per step sent so far, in step order
    console_url: str | None = None
    sqlserver_audit_url: str | None = None
    sqlserver_audit_extension: str | None = None  # .zip or .sqlaudit, as ENABLE_COMPRESSION makes RDS upload them
    audit_record_key: str | None = None
    audit_record_console_url: str | None = None
    # A presigned link is a short-lived credential: excluded from every dump, so it reaches chat through the
    # in-memory job only, never the store or the audit trail.
    audit_record_url: str | None = Field(default=None, exclude=True)

    def set_fields(self) -> dict[str, Any]:
        """The fields set so far, as plain JSON values: what the store keeps and `job.succeeded` records."""
        return self.model_dump(mode="json", exclude_none=True)


class EngineBookkeeping(BaseModel):
    """What rdsbot remembers about a job to drive it, as opposed to what the job produced."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # Transient errors in a row in the current stage; reset when a stage step gets through.
    transient_failures: int = 0
    # The restore task was asked to cancel; never ask twice.
    cancel_sent: bool = False
    # The job's audit record could not be written to S3 when it finished; the shipper loop retries it.
    audit_record_pending: bool = False
    # Finished, and its completion not yet handed to the notifier: saved in the same write as the finished status,
    # cleared once job_finished returned, so a process killed in between announces it after the restart. The store
    # keeps it in a column of its own (the engine looks for it each tick).
    finish_unannounced: bool = False


class Job(BaseModel):
    """A restore job: its plan, where it is, and what it has created (so a cleanup knows what to remove)."""

    id: str
    requester: str
    plan: RestorePlan
    status: JobStatus = JobStatus.QUEUED
    stages: list[Stage] = Field(default_factory=lambda: [Stage(name=n) for n in STAGE_ORDER])
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

    def stage(self, name: StageName) -> Stage:
        return next(s for s in self.stages if s.name == name)

    @property
    def current_stage(self) -> Stage | None:
        """The first stage not yet succeeded, or None when all have."""
        return next((s for s in self.stages if s.status != StageStatus.SUCCEEDED), None)


# Values exchanged with the AWS ports.


class ApprovalDecision(StrEnum):
    """What an approver said about a job."""

    APPROVED = "approved"
    DENIED = "denied"


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
