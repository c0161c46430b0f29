"""The T-SQL side of native restore, what comes back: rds_task_status read by column name across result sets and
shapes, tasks found by database, and the connection in autocommit and closed whatever the server says."""

from __future__ import annotations

import pytds
import pytest

from aws.native_restore import (
    NativeRestoreError,
    SqlNativeRestore,
)
from bot.domain import TaskLifecycle, TaskStatus
from tests.unit.native_restore_fakes import (
    ARN,
    INSTANCE,
    STATUS_COLUMNS,
    RecordingConnection,
    client_answering,
    status_row,
    status_set,
)


def test_status_is_read_by_column_name_when_columns_are_reordered():
    reordered = ("lifecycle", "S3_object_arn", "% complete", "task_info", "database_name", "task_type", "task_id")
    client, _ = client_answering(status_set(status_row(task_id=7, **{"% complete": 63}), columns=reordered))
    status = client.task_status(INSTANCE, 7)
    assert status == TaskStatus(
        task_id=7,
        database_name="Prod",
        lifecycle=TaskLifecycle.IN_PROGRESS,
        percent_complete=63,
        task_info="Task execution has started.",
        task_type="RESTORE_DB",
        s3_object_arn=ARN,
    )


def test_answers_after_empty_result_sets_are_found():
    client, _ = client_answering(
        (None, []),
        (("task_id",), []),
        (("rows affected",), []),
        status_set(status_row(task_id=21, lifecycle="CREATED")),
    )
    assert client.start_restore(INSTANCE, "Prod", ARN) == 21


def test_no_rows_in_any_set_is_a_readable_error():
    client, _ = client_answering((None, []), (("task_id",), []))
    with pytest.raises(NativeRestoreError, match="without a task id"):
        client.start_restore(INSTANCE, "Prod", ARN)


def test_rows_handed_out_as_mappings_are_read_too():
    client, _ = client_answering((STATUS_COLUMNS, [status_row(task_id=4, lifecycle="SUCCESS", **{"% complete": 100})]))
    status = client.task_status(INSTANCE, 4)
    assert status.lifecycle == TaskLifecycle.SUCCESS and status.percent_complete == 100


def test_a_task_not_started_yet_reports_null_progress_as_zero():
    client, _ = client_answering(status_set(status_row(lifecycle="CREATED", task_info=None, **{"% complete": None})))
    status = client.task_status(INSTANCE, 7)
    assert status.lifecycle == TaskLifecycle.CREATED and status.percent_complete == 0 and status.task_info == ""


def test_unknown_task_is_a_readable_error():
    client, _ = client_answering(status_set())
    with pytest.raises(NativeRestoreError, match="no task 7 on restore-prod"):
        client.task_status(INSTANCE, 7)


def test_unknown_lifecycle_is_a_readable_error():
    client, _ = client_answering(status_set(status_row(lifecycle="PAUSED")))
    with pytest.raises(NativeRestoreError, match="unknown lifecycle 'PAUSED'"):
        client.task_status(INSTANCE, 7)


def test_find_task_returns_the_newest_restore_and_ignores_backups():
    client, connection = client_answering(
        status_set(
            status_row(task_id=3, lifecycle="ERROR"),
            status_row(task_id=9, task_type="BACKUP_DB", lifecycle="IN_PROGRESS"),
            status_row(task_id=5, lifecycle="IN_PROGRESS", database_name="prod"),
        )
    )
    found = client.find_task(INSTANCE, "Prod")
    assert found is not None and found.task_id == 5
    assert connection.executed[0][:2] == ("exec msdb.dbo.rds_task_status @db_name=%s", ("Prod",))


def test_find_task_returns_none_when_the_database_has_no_task():
    client, _ = client_answering(status_set())
    assert client.find_task(INSTANCE, "Prod") is None


def test_connection_is_switched_to_autocommit_before_any_procedure_runs():
    connection = RecordingConnection([status_set(status_row())])
    connection.autocommit = False
    SqlNativeRestore(lambda instance: connection).task_status(INSTANCE, 7)
    assert connection.executed[0][2] is True


def test_cursor_and_connection_are_closed_even_when_the_server_refuses():
    client, connection = client_answering(error=pytds.ProgrammingError("Could not find stored procedure"))
    with pytest.raises(NativeRestoreError):
        client.task_status(INSTANCE, 7)
    assert connection.closed and all(cursor.closed for cursor in connection.cursors)
