"""SQL Server native restore on RDS: the msdb.dbo.rds_* procedures, one client, the python-tds driver."""

from aws.native_restore.client import Connect, DbApiConnection, SqlNativeRestore, driver_message
from aws.native_restore.procedures import (
    CANCEL_TASK,
    RESTORE_DATABASE,
    TASK_STATUS,
    DbApiCursor,
    NativeRestoreError,
    RestoreType,
    SqlConnectionError,
    Statement,
    status_failure_reason,
    task_failure_reason,
)
from aws.native_restore.tds import tds_connector

__all__ = [
    "CANCEL_TASK",
    "RESTORE_DATABASE",
    "TASK_STATUS",
    "Connect",
    "DbApiConnection",
    "DbApiCursor",
    "NativeRestoreError",
    "RestoreType",
    "SqlConnectionError",
    "SqlNativeRestore",
    "Statement",
    "driver_message",
    "status_failure_reason",
    "task_failure_reason",
    "tds_connector",
]
