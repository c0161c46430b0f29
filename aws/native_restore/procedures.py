"""The RDS native-restore procedures in msdb: the exact statements, how to read their answers, what failures mean."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from bot.domain import TaskLifecycle, TaskStatus
from bot.errors import RdsbotError, RequestError, TransientError
from bot.restore_chain import ChainStep, StepKind

RESTORE_DATABASE = "msdb.dbo.rds_restore_database"
TASK_STATUS = "msdb.dbo.rds_task_status"
CANCEL_TASK = "msdb.dbo.rds_cancel_task"
RESTORE_LOG = "msdb.dbo.rds_restore_log"
FINISH_RESTORE = "msdb.dbo.rds_finish_restore"
DROP_DATABASE = "msdb.dbo.rds_drop_database"
# Not a procedure: whether a database of that name exists, the name bound (pytds sends it as @P1).
DATABASE_EXISTS = "SELECT CASE WHEN DB_ID(%s) IS NULL THEN 0 ELSE 1 END AS database_found"
BACKUP_DATABASE = "msdb.dbo.rds_backup_database"
# = compares under the server's default (case-insensitive) collation, as DB_ID does.
DATABASE_STATE = "SELECT state_desc FROM sys.databases WHERE name = %s"

# sysname is nvarchar(128); longer names would be truncated by SQL Server, not refused.
MAX_DATABASE_NAME = 128
S3_ARN = re.compile(r"arn:aws(-[a-z]+)*:s3:::[^/\s]+/\S+")
KMS_ARN = re.compile(r"arn:aws(-[a-z]+)*:kms:[a-z0-9-]+:\d{12}:(key|alias)/\S+")

SqlValue = str | int


class NativeRestoreError(RdsbotError):
    """A call to SQL Server for native restore failed in a way that is not the restore task's own failure."""


class SqlConnectionError(NativeRestoreError, TransientError):
    """SQL Server could not be reached or refused the login; often passing (DNS, security group, reboot)."""


class DbApiCursor(Protocol):
    """The part of a DB-API 2.0 cursor these procedures rely on."""

    @property
    def description(self) -> Sequence[Sequence[Any]] | None: ...

    def execute(self, operation: str, params: Sequence[SqlValue], /) -> object: ...

    def fetchall(self) -> Sequence[Any]: ...

    def nextset(self) -> bool | None: ...

    def close(self) -> None: ...


class RestoreType(StrEnum):
    FULL = "FULL"
    DIFFERENTIAL = "DIFFERENTIAL"


@dataclass(frozen=True)
class Statement:
    """One `exec msdb.dbo.rds_*` call: the procedure and its named parameters, values always bound, never inlined."""

    procedure: str
    params: tuple[tuple[str, SqlValue], ...]

    @property
    def sql(self) -> str:
        """The text sent to the driver; only parameter names and pytds's %s placeholders, no values."""
        bound = ", ".join(f"@{name}=%s" for name, _ in self.params)
        return f"exec {self.procedure} {bound}".rstrip()

    @property
    def values(self) -> tuple[SqlValue, ...]:
        return tuple(value for _, value in self.params)

    def run(self, cursor: DbApiCursor) -> None:
        """Execute on the cursor with the values bound as parameters."""
        cursor.execute(self.sql, self.values)


def restore_database(
    database_name: str,
    s3_arn: str,
    *,
    kms_key_arn: str | None = None,
    restore_type: RestoreType = RestoreType.FULL,
    with_norecovery: bool = False,
    keep_cdc: bool = False,
    data_file_volume: str | None = None,
    log_file_volume: str | None = None,
    tuning: Tuning | None = None,
) -> Statement:
    """`rds_restore_database` for one database from one .bak or a `prefix*` multi-file set."""
    params = _source(database_name, s3_arn, "restore_db_name", "s3_arn_to_restore_from")
    params += [("type", restore_type.value), ("with_norecovery", 1 if with_norecovery else 0)]
    if keep_cdc:
        if with_norecovery and restore_type == RestoreType.FULL:
            raise RequestError("keep_cdc", "RDS does not restore a FULL backup with both NORECOVERY and KEEP_CDC")
        params.append(("keep_cdc", 1))
    for name, volume in (("data_file_volume", data_file_volume), ("log_file_volume", log_file_volume)):
        if volume is not None:
            if volume.upper() not in VOLUMES:
                raise RequestError(name, f"{volume!r} is not a volume RDS offers", f"use one of {', '.join(VOLUMES)}")
            params.append((name, volume.upper()))
    params += _kms(kms_key_arn) + (tuning or Tuning()).params()
    return Statement(RESTORE_DATABASE, tuple(params))


@dataclass(frozen=True)
class Tuning:
    """@block_size, @max_transfer_size, @buffer_count of a backup or restore; None leaves RDS's default."""

    block_size: int | None = None
    max_transfer_size: int | None = None
    buffer_count: int | None = None

    def params(self) -> list[tuple[str, SqlValue]]:
        if self.block_size is not None and self.block_size not in BLOCK_SIZES:
            raise RequestError("block_size", f"{self.block_size} is not a block size RDS takes", "use 512 to 65536")
        if self.max_transfer_size is not None and not (
            0 < self.max_transfer_size <= MAX_TRANSFER_SIZE and self.max_transfer_size % 65536 == 0
        ):
            raise RequestError(
                "max_transfer_size", f"{self.max_transfer_size} bytes", "use a multiple of 65536 up to 4 MB"
            )
        if self.buffer_count is not None and self.buffer_count < 1:
            raise RequestError("buffer_count", f"{self.buffer_count} buffers", "use 1 or more")
        named = {
            "block_size": self.block_size,
            "max_transfer_size": self.max_transfer_size,
            "buffer_count": self.buffer_count,
        }
        return [(name, int(value)) for name, value in named.items() if value is not None]


# AWS guide "SQLServer.Procedural.Importing.Native.Using": the documented values.
BLOCK_SIZES = (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)
MAX_TRANSFER_SIZE = 4 * 2**20
VOLUMES = ("D:", "H:", "I:", "J:")
MAX_BACKUP_FILES = 10


def restore_log(
    database_name: str,
    s3_arn: str,
    *,
    kms_key_arn: str | None = None,
    with_norecovery: bool = True,
    stopat: str | None = None,
    tuning: Tuning = Tuning(),
) -> Statement:
    """`rds_restore_log`: one log backup onto a database left RESTORING; NORECOVERY by default, as RDS does."""
    params = _source(database_name, s3_arn, "restore_db_name", "s3_arn_to_restore_from")
    params.append(("with_norecovery", 1 if with_norecovery else 0))
    if stopat:
        params.append(("stopat", stopat))
    params += _kms(kms_key_arn) + tuning.params()
    return Statement(RESTORE_LOG, tuple(params))


def chain_statement(database_name: str, step: ChainStep, kms_key_arn: str | None = None) -> Statement:
    """The statement of one restore chain step: FULL and DIFFERENTIAL by rds_restore_database with
    @with_norecovery=1, a log by rds_restore_log (NORECOVERY, @stopat on the last), then rds_finish_restore."""
    if step.kind == StepKind.FINISH:
        return finish_restore(database_name)
    s3_arn = step.s3_arn or ""
    if step.kind == StepKind.LOG:
        return restore_log(database_name, s3_arn, kms_key_arn=kms_key_arn, stopat=step.stop_at)
    kind = RestoreType.DIFFERENTIAL if step.kind == StepKind.DIFFERENTIAL else RestoreType.FULL
    return restore_database(database_name, s3_arn, kms_key_arn=kms_key_arn, restore_type=kind, with_norecovery=True)


def finish_restore(database_name: str) -> Statement:
    """`rds_finish_restore`: open a database a NORECOVERY chain left RESTORING."""
    _check_database_name(database_name)
    return Statement(FINISH_RESTORE, (("db_name", database_name),))


def drop_database(database_name: str) -> Statement:
    """`rds_drop_database`: drop a database (one left RESTORING, too)."""
    _check_database_name(database_name)
    return Statement(DROP_DATABASE, (("db_name", database_name),))


def backup_database(
    database_name: str,
    s3_arn: str,
    *,
    kms_key_arn: str | None = None,
    overwrite: bool = False,
    backup_type: RestoreType = RestoreType.FULL,
    number_of_files: int = 1,
    bucket_default_encryption: bool = False,
    tuning: Tuning = Tuning(),
) -> Statement:
    """`rds_backup_database`; more than one file needs one `*` in the file name (it becomes 1-of-N...)."""
    params = _source(database_name, s3_arn, "source_db_name", "s3_arn_to_backup_to")
    if not 1 <= number_of_files <= MAX_BACKUP_FILES:
        raise RequestError("number_of_files", f"{number_of_files} files", "RDS writes 1 to 10 files")
    if number_of_files > 1 and s3_arn.rsplit("/", 1)[-1].count("*") != 1:
        raise RequestError("backup", "a multi-file backup needs exactly one * in the file name", "e.g. backup*.bak")
    params += [
        ("overwrite_s3_backup_file", 1 if overwrite else 0),
        ("type", backup_type.value),
        ("number_of_files", number_of_files),
        ("enable_bucket_default_encryption", 1 if bucket_default_encryption else 0),
    ]
    params += _kms(kms_key_arn) + tuning.params()
    return Statement(BACKUP_DATABASE, tuple(params))


def _source(database_name: str, s3_arn: str, db_param: str, arn_param: str) -> list[tuple[str, SqlValue]]:
    _check_database_name(database_name)
    if not S3_ARN.fullmatch(s3_arn):
        raise RequestError("backup", f"{s3_arn!r} is not an S3 object ARN", "expected arn:aws:s3:::bucket/key.bak")
    return [(db_param, database_name), (arn_param, s3_arn)]


def _kms(kms_key_arn: str | None) -> list[tuple[str, SqlValue]]:
    # Left out rather than bound as NULL: pytds turns a None parameter into a literal NULL in the text.
    if not kms_key_arn:
        return []
    if not KMS_ARN.fullmatch(kms_key_arn):
        raise RequestError("kms_key", f"{kms_key_arn!r} is not a KMS key ARN", "expected arn:aws:kms:...:key/...")
    return [("kms_master_key_arn", kms_key_arn)]


def task_status_by_id(task_id: int) -> Statement:
    """`rds_task_status` for one task."""
    return Statement(TASK_STATUS, (("task_id", int(task_id)),))


def task_status_by_database(database_name: str) -> Statement:
    """`rds_task_status` for every task RDS remembers (36 days) on one database."""
    _check_database_name(database_name)
    return Statement(TASK_STATUS, (("db_name", database_name),))


def cancel_task(task_id: int) -> Statement:
    """`rds_cancel_task` for one task."""
    return Statement(CANCEL_TASK, (("task_id", int(task_id)),))


def _check_database_name(name: str) -> None:
    if not name or not name.strip():
        raise RequestError("database", "the database name is empty")
    if len(name) > MAX_DATABASE_NAME:
        raise RequestError("database", f"the database name is {len(name)} characters; SQL Server allows 128")


# Reading answers.


def first_rows(cursor: DbApiCursor) -> list[dict[str, Any]]:
    """The rows of the first result set that has any, keyed by lower-case column name; [] when none has."""
    while True:
        description = cursor.description
        # A set without columns (a PRINT, a row count) cannot be fetched from.
        if description:
            rows = cursor.fetchall()
            if rows:
                names = [str(column[0]).strip().lower() for column in description]
                return [_row_as_dict(names, row) for row in rows]
        if not cursor.nextset():
            return []


def _row_as_dict(names: list[str], row: Any) -> dict[str, Any]:
    # A connection built with as_dict=True hands out mappings already.
    if isinstance(row, Mapping):
        return {str(key).strip().lower(): value for key, value in row.items()}
    return dict(zip(names, row, strict=True))


def _column(row: Mapping[str, Any], name: str) -> Any:
    if name not in row:
        raise NativeRestoreError(f"rds_task_status answered without a {name!r} column (got {', '.join(row)})")
    return row[name]


def task_status_from_row(row: Mapping[str, Any]) -> TaskStatus:
    """One rds_task_status (or rds_restore_database) row, keyed by lower-case column name, as a TaskStatus."""
    lifecycle_text = str(_column(row, "lifecycle") or "").strip().upper()
    try:
        lifecycle = TaskLifecycle(lifecycle_text)
    except ValueError:
        raise NativeRestoreError(f"rds_task_status answered an unknown lifecycle {lifecycle_text!r}") from None
    percent = row.get("% complete")
    arn = row.get("s3_object_arn")
    return TaskStatus(
        task_id=int(_column(row, "task_id")),
        database_name=str(_column(row, "database_name") or ""),
        lifecycle=lifecycle,
        # NULL until the task starts.
        percent_complete=max(0, min(100, int(percent or 0))),
        task_info=str(row.get("task_info") or "").strip(),
        task_type=str(row.get("task_type") or "RESTORE_DB"),
        s3_object_arn=str(arn) if arn else None,
    )


def task_id_from_rows(rows: Sequence[Mapping[str, Any]]) -> int:
    """The task id rds_restore_database answers with."""
    for row in rows:
        if row.get("task_id") is not None:
            return int(row["task_id"])
    raise NativeRestoreError("rds_restore_database answered without a task id; check rds_task_status on the instance")


# Failures in plain words.

_REASONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"option is not enabled|in the process of being enabled", re.I),
        "the option group's SQLSERVER_BACKUP_RESTORE option is not in-sync on the instance yet; "
        "wait until the option group shows in-sync, then retry",
    ),
    (
        re.compile(r"more than 10 backup file", re.I),
        "the backup has more than 10 files; RDS restores at most 10, so use a prefix that matches 10 or fewer",
    ),
    (
        re.compile(r"same region", re.I),
        "the backup bucket is in another region than the instance; copy the backup to a bucket in the "
        "instance's region",
    ),
    (
        re.compile(r"multi-?az", re.I),
        "differential and NORECOVERY restores are not supported on a Multi-AZ instance; restore a FULL backup "
        "or use a Single-AZ instance",
    ),
    (
        re.compile(r"(inside|within) a (user )?transaction", re.I),
        "the procedure ran inside a transaction; the connection must use autocommit",
    ),
)
_KMS = re.compile(r"\bkms\b|master key", re.I)
# SQL Server message 33111: the backup's database encryption key is protected by a certificate the server lacks.
_TDE_CERTIFICATE_MISSING = re.compile(r"Cannot find server certificate with thumbprint '?([^'.\s]+)", re.I)
_KMS_DENIED = re.compile(r"access ?denied|not authorized|AccessDeniedException|disabled|pending deletion", re.I)
_ALREADY_EXISTS = re.compile(r"database\s+'([^']+)'\s+already exists|already exists", re.I)
_OBJECT_MISSING = re.compile(r"does not exist|access ?denied|NoSuchKey|NoSuchBucket|not ?found|forbidden", re.I)


def task_failure_reason(task_info: str, *, database_name: str | None = None, s3_arn: str | None = None) -> str:
    """Plain words for what went wrong, from task_info or a procedure's error text; the raw text when unknown."""
    text = (task_info or "").strip()
    if match := _TDE_CERTIFICATE_MISSING.search(text):
        return (
            f"the backup is of a TDE-encrypted database and the instance lacks its certificate (thumbprint "
            f"{match.group(1)}; SQL Server message 33111); request the restore again with --tde-certificate "
            "KEY.cer --tde-private-key KEY.pvk --tde-password-key KEY-ARN"
        )
    for pattern, reason in _REASONS:
        if pattern.search(text):
            return reason
    # KMS before the object: "Key ... does not exist" is about the key, not the .bak.
    if _KMS.search(text):
        if _KMS_DENIED.search(text):
            return (
                "the restore role may not use the backup's KMS key; make it a key user "
                "(kms:Decrypt, kms:DescribeKey, kms:GenerateDataKey, kms:Encrypt)"
            )
        return (
            "the KMS key for the backup does not exist in this account and region, or is not usable; check the key ARN"
        )
    if match := _ALREADY_EXISTS.search(text):
        name = database_name or match.group(1)
        which = f"named {name!r}" if name else "with that name"
        return (
            f"a database {which} already exists on the instance; choose another database name or drop the existing one"
        )
    if _OBJECT_MISSING.search(text):
        target = s3_arn or "the backup object"
        return (
            f"{target} does not exist or the restore role cannot read it "
            "(it needs s3:GetObject on bucket/* and s3:ListBucket on the bucket)"
        )
    return text or "the restore task failed without a message from RDS"


def status_failure_reason(status: TaskStatus) -> str:
    """Plain words for a finished task that did not succeed."""
    if status.lifecycle in (TaskLifecycle.CANCELLED, TaskLifecycle.CANCEL_REQUESTED):
        return f"restore task {status.task_id} for {status.database_name} was cancelled"
    return task_failure_reason(status.task_info, database_name=status.database_name, s3_arn=status.s3_object_arn)
