"""A DB-API connection that records what the native restore client sends and answers prepared result sets, with
the status rows RDS's rds_task_status returns: shared by the native restore tests (statements, answers, reasons)."""

from __future__ import annotations

from typing import Any

from aws.native_restore import SqlNativeRestore
from bot.domain import InstanceState

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
