"""The T-SQL side of native restore: exact statements, bound values, answers read by column name, plain reasons."""

from __future__ import annotations

from typing import Any

import pytds
import pytest

from aws.native_restore import (
    CANCEL_TASK,
    RESTORE_DATABASE,
    TASK_STATUS,
    NativeRestoreError,
    SqlConnectionError,
    SqlNativeRestore,
    driver_message,
    procedures,
    status_failure_reason,
    task_failure_reason,
)
from bot.domain import InstanceState, TaskLifecycle, TaskStatus
from bot.errors import RdsbotError, RequestError, RestoreTaskError
from bot.ports import NativeRestore

ARN = "arn:aws:s3:::team-backups/sql/prod.bak"
KMS = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-aaaa-bbbb-cccc-1234567890ab"
INSTANCE = InstanceState(
    instance_id="restore-prod",
    status="available",
    instance_class="db.m5.large",
    endpoint_address="restore-prod.abc.us-east-1.rds.amazonaws.com",
    endpoint_port=1433,
)
STATUS_COLUMNS = ("task_id", "task_type", "database_name", "% complete", "lifecycle", "task_info", "S3_object_arn")

ResultSet = tuple[tuple[str, ...] | None, list[Any]]


class RecordingCursor:
    """A DB-API cursor that records what it is sent and answers prepared result sets."""

    def __init__(self, connection: RecordingConnection) -> None:
        self.connection = connection
        self.sets: list[ResultSet] = []
        self.index = 0
        self.closed = False

    @property
    def description(self):
        columns = self.sets[self.index][0] if self.index < len(self.sets) else None
        if columns is None:
            return None
        return tuple((name, 1, None, None, None, None, None) for name in columns)

    def execute(self, operation, params=None):
        self.connection.executed.append((operation, params, self.connection.autocommit))
        if self.connection.error is not None:
            raise self.connection.error
        self.sets = [(columns, list(rows)) for columns, rows in self.connection.answers]
        self.index = 0
        return self

    def fetchall(self):
        rows = self.sets[self.index][1]
        self.sets[self.index] = (self.sets[self.index][0], [])
        return rows

    def nextset(self):
        if self.index + 1 < len(self.sets):
            self.index += 1
            return True
        self.index = len(self.sets)
        return None

    def close(self):
        self.closed = True


class RecordingConnection:
    def __init__(self, answers: list[ResultSet] | None = None, error: Exception | None = None) -> None:
        self.answers = answers or []
        self.error = error
        self.autocommit = True
        self.executed: list[tuple[str, Any, bool]] = []
        self.cursors: list[RecordingCursor] = []
        self.closed = False

    def cursor(self):
        cursor = RecordingCursor(self)
        self.cursors.append(cursor)
        return cursor

    def close(self):
        self.closed = True


def client_answering(
    *answers: ResultSet, error: Exception | None = None
) -> tuple[SqlNativeRestore, RecordingConnection]:
    connection = RecordingConnection(list(answers), error)
    return SqlNativeRestore(lambda instance: connection), connection


def status_row(**values: Any) -> dict[str, Any]:
    row = {
        "task_id": 7,
        "task_type": "RESTORE_DB",
        "database_name": "Prod",
        "% complete": 40,
        "lifecycle": "IN_PROGRESS",
        "task_info": "Task execution has started.",
        "S3_object_arn": ARN,
    }
    row.update(values)
    return row


def status_set(*rows: dict[str, Any], columns: tuple[str, ...] = STATUS_COLUMNS) -> ResultSet:
    return columns, [tuple(row[column] for column in columns) for row in rows]


def test_sql_native_restore_is_a_native_restore_port():
    restore: NativeRestore = SqlNativeRestore(lambda instance: RecordingConnection())
    assert restore is not None


def test_restore_sends_the_exact_statement_with_every_value_bound():
    client, connection = client_answering(status_set(status_row(task_id=12, lifecycle="CREATED")))
    assert client.start_restore(INSTANCE, "Prod", ARN) == 12
    assert connection.executed == [
        (
            "exec msdb.dbo.rds_restore_database @restore_db_name=%s, @s3_arn_to_restore_from=%s, @type=%s, "
            "@with_norecovery=%s",
            ("Prod", ARN, "FULL", 0),
            True,
        )
    ]


def test_kms_key_travels_as_one_more_bound_parameter():
    client, connection = client_answering(status_set(status_row(task_id=3)))
    client.start_restore(INSTANCE, "Prod", ARN, KMS)
    sql, params, _ = connection.executed[0]
    assert sql.endswith("@with_norecovery=%s, @kms_master_key_arn=%s")
    assert params == ("Prod", ARN, "FULL", 0, KMS)
    assert KMS not in sql


def test_hostile_database_name_travels_as_a_parameter_never_inside_the_sql():
    hostile = "x'; DROP DATABASE master; --"
    client, connection = client_answering(status_set(status_row(task_id=1, database_name=hostile)))
    client.start_restore(INSTANCE, hostile, ARN)
    client.find_task(INSTANCE, hostile)
    for sql, params, _ in connection.executed:
        assert hostile not in sql and "DROP" not in sql and "'" not in sql
        assert params[0] == hostile


def test_differential_norecovery_statement():
    statement = procedures.restore_database(
        "Prod", ARN, restore_type=procedures.RestoreType.DIFFERENTIAL, with_norecovery=True
    )
    assert statement.procedure == RESTORE_DATABASE
    assert statement.values == ("Prod", ARN, "DIFFERENTIAL", 1)


def test_multi_file_prefix_arn_is_accepted():
    statement = procedures.restore_database("Prod", "arn:aws:s3:::team-backups/sql/prod*")
    assert statement.values[1] == "arn:aws:s3:::team-backups/sql/prod*"


def test_status_and_cancel_statements():
    assert procedures.task_status_by_id(5).sql == "exec msdb.dbo.rds_task_status @task_id=%s"
    assert procedures.task_status_by_id(5).values == (5,)
    assert procedures.task_status_by_database("Prod").sql == "exec msdb.dbo.rds_task_status @db_name=%s"
    assert procedures.task_status_by_database("Prod").values == ("Prod",)
    assert procedures.cancel_task(5).sql == "exec msdb.dbo.rds_cancel_task @task_id=%s"
    assert procedures.cancel_task(5).procedure == CANCEL_TASK
    assert procedures.task_status_by_id(5).procedure == TASK_STATUS


def test_cancel_sends_rds_cancel_task_and_reads_nothing():
    client, connection = client_answering()
    client.cancel(INSTANCE, 9)
    assert connection.executed == [("exec msdb.dbo.rds_cancel_task @task_id=%s", (9,), True)]


@pytest.mark.parametrize(
    ("database_name", "s3_arn", "kms", "field"),
    [
        ("", ARN, None, "database"),
        ("   ", ARN, None, "database"),
        ("d" * 129, ARN, None, "database"),
        ("Prod", "s3://team-backups/sql/prod.bak", None, "backup"),
        ("Prod", "arn:aws:s3:::team-backups", None, "backup"),
        ("Prod", ARN, "alias/backups", "kms_key"),
    ],
)
def test_bad_inputs_are_refused_before_anything_is_sent(database_name, s3_arn, kms, field):
    client, connection = client_answering()
    with pytest.raises(RequestError) as error:
        client.start_restore(INSTANCE, database_name, s3_arn, kms)
    assert error.value.field == field
    assert connection.executed == []


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


def test_a_refused_restore_becomes_a_restore_task_error_in_plain_words():
    refusal = pytds.OperationalError(
        "Database backup/restore option is not enabled yet or is in the process of being enabled. "
        "Please try again later."
    )
    client, _ = client_answering(error=refusal)
    with pytest.raises(RestoreTaskError) as error:
        client.start_restore(INSTANCE, "Prod", ARN)
    assert "in-sync" in error.value.reason and "restore-prod" in error.value.reason
    assert error.value.task_info.startswith("Database backup/restore option is not enabled yet")
    assert "Traceback" not in str(error.value) and "OperationalError" not in str(error.value)


def test_a_status_query_refusal_keeps_the_servers_words():
    client, _ = client_answering(error=pytds.OperationalError("Task id 7 does not exist."))
    with pytest.raises(
        NativeRestoreError, match=r"^rds_task_status failed on restore-prod: Task id 7 does not exist\.$"
    ):
        client.task_status(INSTANCE, 7)


def test_an_unreachable_server_is_a_connection_error_a_user_can_read():
    def unreachable(instance):
        raise TimeoutError("timed out")

    with pytest.raises(SqlConnectionError, match="cannot connect to SQL Server on restore-prod: timed out") as error:
        SqlNativeRestore(unreachable).task_status(INSTANCE, 7)
    assert isinstance(error.value, RdsbotError) and error.value.__cause__ is None


def test_an_rdsbot_error_from_the_connector_passes_through_unchanged():
    original = SqlConnectionError("instance restore-prod has no endpoint yet")

    def connect(instance):
        raise original

    with pytest.raises(SqlConnectionError) as error:
        SqlNativeRestore(connect).find_task(INSTANCE, "Prod")
    assert error.value is original


def test_driver_message_prefers_the_servers_text_over_the_exception_dressing():
    error = pytds.OperationalError("Login failed for user 'admin'.")
    assert driver_message(error) == "Login failed for user 'admin'."
    assert driver_message(OSError()) == "OSError"


# Plain reasons for each known task_info.

REASONS = [
    (
        "Database backup/restore option is not enabled yet or is in the process of being enabled. "
        "Please try again later.",
        "not in-sync on the instance yet",
    ),
    (
        "[2026-01-01 10:00:00.000] Task execution has started.\n[2026-01-01 10:00:01.000] Aborted the task because "
        "of a task failure or a concurrent RESTORE_DB request.\nError making request with Error Code NotFound and "
        "Http Status Code NotFound. The specified key does not exist.",
        f"{ARN} does not exist or the restore role cannot read it",
    ),
    (
        "Error making request with Error Code Forbidden and Http Status Code Forbidden. Access Denied",
        f"{ARN} does not exist or the restore role cannot read it",
    ),
    (
        "Please specify a bucket that is in the same region as RDS instance.",
        "bucket is in another region than the instance",
    ),
    (
        "Aborted the task because of a task failure. Unable to restore from more than 10 backup file(s).",
        "more than 10 files",
    ),
    (
        "Database 'Prod' already exists. Two databases that differ only by case or accent are not allowed.",
        "a database named 'Prod' already exists on the instance",
    ),
    (
        f"Key '{KMS}' does not exist",
        "KMS key for the backup does not exist",
    ),
    (
        "Error making request with Error Code AccessDeniedException: The ciphertext refers to a customer master key "
        "that does not exist or that you do not have access to. (Service: AWSKMS)",
        "may not use the backup's KMS key",
    ),
    (
        "The KMS key is disabled.",
        "may not use the backup's KMS key",
    ),
    (
        "RESTORE with NORECOVERY is not supported on Multi-AZ instances.",
        "not supported on a Multi-AZ instance",
    ),
]


@pytest.mark.parametrize(("task_info", "words"), REASONS)
def test_each_known_task_info_reads_as_a_plain_reason(task_info, words):
    assert words in task_failure_reason(task_info, database_name="Prod", s3_arn=ARN)


def test_already_exists_names_the_database_from_the_message_when_not_given():
    reason = task_failure_reason("Database 'Sales_2026' already exists.")
    assert "a database named 'Sales_2026' already exists" in reason


def test_timestamps_in_task_info_do_not_read_as_http_codes():
    text = "[2026-01-01 10:00:00.403] Task execution has started.\n[2026-01-01 10:00:09.404] Restore failed."
    assert task_failure_reason(text) == text


def test_an_unknown_task_info_falls_back_to_the_raw_text():
    assert task_failure_reason("  RESTORE DATABASE is terminating abnormally.  ") == (
        "RESTORE DATABASE is terminating abnormally."
    )
    assert task_failure_reason("") == "the restore task failed without a message from RDS"


def test_a_failed_status_reads_with_its_own_database_and_object():
    status = TaskStatus(
        task_id=2,
        database_name="Prod",
        lifecycle=TaskLifecycle.ERROR,
        percent_complete=0,
        task_info="The specified key does not exist.",
        s3_object_arn="arn:aws:s3:::team-backups/other.bak",
    )
    assert status_failure_reason(status).startswith("arn:aws:s3:::team-backups/other.bak does not exist")
    cancelled = status.model_copy(update={"lifecycle": TaskLifecycle.CANCELLED})
    assert status_failure_reason(cancelled) == "restore task 2 for Prod was cancelled"
