"""What a job's stages produced (StageOutputs) and what the engine remembers to drive it (EngineBookkeeping). Pure;
re-exported by bot/domain.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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
    # Why the finalize stage left SQL Server Audit alone: an --into instance rdsbot did not make is its owner's.
    server_audit_skipped: str | None = None
    # --into with a new option group: the instance's group before rdsbot applied its own, to put it back with.
    previous_option_group: str | None = None
    # An --into chain: the newest task of the database's name before the chain, so step 1 of this job is told
    # apart from an earlier restore of the same backup (RDS keeps 36 days of task history).
    task_floor: int | None = None
    audit_record_key: str | None = None
    # A backup's object(s) as s3:// URLs, in file order, with backup_bytes their total (read back at finalize).
    backup_objects: tuple[str, ...] | None = None
    # The backup tasks rds_task_status listed for the database at validate: any other to the same ARN is ours.
    prior_backup_tasks: tuple[int, ...] | None = None
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
