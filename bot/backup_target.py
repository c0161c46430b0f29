"""A backup job's plan section: where `rds_backup_database` writes and how. Pure: the model only; the request and
its rules live in bot/backup_request.py, the checks in bot/backup_checks.py."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

MAX_FILES = 10  # AWS guide "SQLServer.Procedural.Importing.Native.Using": at most 10 backup files
# AWS guide "SQLServer.Procedural.Importing.Native.Enabling": what the option group's role needs to write a backup.
BACKUP_OBJECT_ACTIONS = ("s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload")
BACKUP_BUCKET_ACTIONS = ("s3:ListBucket", "s3:GetBucketLocation")
BACKUP_KMS_ACTIONS = ("kms:DescribeKey", "kms:GenerateDataKey", "kms:Encrypt")


class BackupType(StrEnum):
    """@type of rds_backup_database."""

    FULL = "FULL"
    DIFFERENTIAL = "DIFFERENTIAL"


class BackupTarget(BaseModel):
    """What a backup job's plan carries besides the instance and database: where it writes, how, and what the
    request-time checks found (shown on the card, checked again before the task is sent)."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str  # with one `*` when files > 1
    files: int = 1
    backup_type: BackupType = BackupType.FULL
    overwrite: bool = False
    overwrites: tuple[str, ...] = ()  # the objects that exist and --overwrite replaces
    allowed_by: str = ""  # the instance's reason to be a source (tag, or targets.existing_instances pattern)
    destination_pattern: str = ""  # the backups.allowed_destinations pattern the destination matched
    role_arn: str | None = None  # the option group's IAM_ROLE_ARN
    role_note: str = ""  # what rdsbot does to or found missing on that role

    @property
    def s3_arn(self) -> str:
        return f"arn:aws:s3:::{self.bucket}/{self.key}"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def object_keys(self) -> tuple[str, ...]:
        """The keys RDS writes: the key itself, or `*` replaced by 1-of-N ... N-of-N."""
        if self.files == 1:
            return (self.key,)
        return tuple(self.key.replace("*", f"{n}-of-{self.files}") for n in range(1, self.files + 1))


@dataclass(frozen=True)
class BackupGrant:
    """What a role needs to write one backup: the objects, the bucket, and the key it encrypts with."""

    bucket: str
    object_pattern: str  # key with `*` for the stripes
    kms_key_arn: str | None

    def resources(self) -> dict[tuple[str, ...], tuple[str, ...]]:
        """Actions -> resources, as the IAM evaluation needs them."""
        wanted: dict[tuple[str, ...], tuple[str, ...]] = {
            BACKUP_OBJECT_ACTIONS: (f"arn:aws:s3:::{self.bucket}/{self.object_pattern}",),
            BACKUP_BUCKET_ACTIONS: (f"arn:aws:s3:::{self.bucket}",),
        }
        if self.kms_key_arn:
            wanted[BACKUP_KMS_ACTIONS] = (self.kms_key_arn,)
        return wanted
