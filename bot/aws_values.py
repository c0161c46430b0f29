"""The values the AWS ports exchange with the core: a backup's objects, a network placement, an instance's state,
a native task's status row. Pure: no I/O."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class BackupSet(BaseModel):
    """The object(s) a restore reads: one .bak, or up to 10 files sharing a prefix."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    keys: tuple[str, ...]
    total_bytes: int
    region: str
    # The SSE-KMS keys (full ARNs, as HeadObject names them) the files are stored under; empty for SSE-S3.
    kms_key_arns: tuple[str, ...] = ()
    last_modified: datetime | None = None  # the newest file's time, when the lookup knows it (drills age it)


class NetworkPlacement(BaseModel):
    model_config = ConfigDict(frozen=True)

    vpc_id: str
    subnet_group_name: str
    security_group_id: str
    created: tuple[str, ...] = ()  # "subnet_group", "security_group" when this call created them


class InstanceState(BaseModel):
    model_config = ConfigDict(frozen=True)

    instance_id: str
    status: str
    instance_class: str
    option_group_name: str | None = None
    option_group_status: str | None = None
    endpoint_address: str | None = None
    endpoint_port: int | None = None
    master_secret_arn: str | None = None
    arn: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    # Its VPC security groups: named when the bot cannot reach the endpoint.
    security_group_ids: tuple[str, ...] = ()
    engine: str | None = None  # sqlserver-se ...: an --into target must run SQL Server
    engine_version: str | None = None
    multi_az: bool = False  # RDS restores no TDE certificate on a Multi-AZ instance (guide "TDE.BackupRestoreRDS")

    @property
    def ready(self) -> bool:
        """Available and its option group applied: only then will rds_restore_database work."""
        return self.status == "available" and self.option_group_status in (None, "in-sync")


class OptionGroupState(BaseModel):
    """What DescribeOptionGroups says of one option group that rdsbot reads: its options and the role RDS assumes
    for native backup and restore. One look-up answers both, so a check never describes the group twice."""

    model_config = ConfigDict(frozen=True)

    name: str
    options: frozenset[str] = frozenset()  # SQLSERVER_BACKUP_RESTORE, TDE, ...
    backup_restore_role_arn: str | None = None  # IAM_ROLE_ARN of SQLSERVER_BACKUP_RESTORE, when it names one


class TaskLifecycle(StrEnum):
    CREATED = "CREATED"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCESS = "SUCCESS"
    ERROR = "ERROR"
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    CANCELLED = "CANCELLED"


class TaskStatus(BaseModel):
    """One row of msdb.dbo.rds_task_status, read by column name."""

    model_config = ConfigDict(frozen=True)

    task_id: int
    database_name: str
    lifecycle: TaskLifecycle
    percent_complete: int
    task_info: str = ""
    # task_info in plain words, filled by the driver when the task did not succeed.
    reason: str = ""
    task_type: str = "RESTORE_DB"
    s3_object_arn: str | None = None

    @property
    def finished(self) -> bool:
        return self.lifecycle in {TaskLifecycle.SUCCESS, TaskLifecycle.ERROR, TaskLifecycle.CANCELLED}
