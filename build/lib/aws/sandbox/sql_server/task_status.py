"""How a restore task reads in rds_task_status: the same columns as RDS, progress, and task_info lines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws.sandbox.sql_server.procedure_calls import bound_int
from aws.sandbox.sql_server.results import ResultSet, SqlParam
from aws.sandbox.sql_server.state_file import EmulatedInstance, RestoreTask
from bot.domain import TaskLifecycle

STATUS_COLUMNS = (
    "task_id",
    "task_type",
    "database_name",
    "% complete",
    "duration (mins)",
    "lifecycle",
    "task_info",
    "last_updated",
    "created_at",
    "S3_object_arn",
    "overwrite_s3_backup_file",
    "KMS_master_key_arn",
)


def status_set(server: EmulatedInstance, bound: dict[str, SqlParam], now: float) -> ResultSet:
    """rds_task_status's answer: the tasks that @task_id and @db_name select, oldest first."""
    tasks = server.tasks
    if bound.get("task_id") is not None:
        task_id = bound_int(bound, "task_id")
        tasks = [t for t in tasks if t.task_id == task_id]
    if bound.get("db_name") is not None:
        wanted = str(bound["db_name"]).casefold()
        tasks = [t for t in tasks if t.database_name.casefold() == wanted]
    return ResultSet(STATUS_COLUMNS, [status_row(t, now) for t in sorted(tasks, key=lambda t: t.task_id)])


def status_row(task: RestoreTask, now: float) -> tuple[Any, ...]:
    """One task's row, in STATUS_COLUMNS order."""
    percent = _percent(task, now)
    last_updated = now if task.lifecycle == TaskLifecycle.IN_PROGRESS else task.last_updated
    minutes = int(((task.finished_at or now) - task.created_at) // 60)
    values = {
        "task_id": task.task_id,
        "task_type": "RESTORE_DB",
        "database_name": task.database_name,
        "% complete": percent,
        "duration (mins)": minutes,
        "lifecycle": task.lifecycle,
        "task_info": "\n".join(task.info) or None,
        "last_updated": _sql_datetime(last_updated),
        "created_at": _sql_datetime(task.created_at),
        "S3_object_arn": task.s3_arn,
        "overwrite_s3_backup_file": None,
        "KMS_master_key_arn": task.kms_key_arn,
    }
    return tuple(values[column] for column in STATUS_COLUMNS)


def stamp(at: float, message: str) -> str:
    """One task_info line: the time in brackets, then the message."""
    return f"[{_sql_datetime(at):%Y-%m-%d %H:%M:%S.%f}"[:-3] + f"] {message}"


def _percent(task: RestoreTask, now: float) -> int:
    if task.lifecycle == TaskLifecycle.SUCCESS:
        return 100
    if task.started_at is None or task.restore_seconds <= 0:
        return 0
    # Progress stops when a cancel is asked for, not when the cancel completes.
    end = task.cancel_requested_at or task.finished_at or now
    return max(0, min(99, int(100 * (end - task.started_at) / task.restore_seconds)))


def _sql_datetime(at: float) -> datetime:
    # python-tds hands back SQL Server datetime columns as naive values; RDS keeps them in UTC.
    return datetime.fromtimestamp(at, UTC).replace(tzinfo=None)
