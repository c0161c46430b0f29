"""The T-SQL side of native restore, when it goes wrong: the server's refusals and the task_info of failed tasks
read as plain reasons a user can act on, and errors a connector raises passed through readable."""

from __future__ import annotations

import pytds
import pytest

from aws.native_restore import (
    NativeRestoreError,
    SqlConnectionError,
    SqlNativeRestore,
    driver_message,
    status_failure_reason,
    task_failure_reason,
)
from bot.domain import TaskLifecycle, TaskStatus
from bot.errors import RdsbotError, RestoreTaskError
from tests.unit.native_restore_fakes import (
    ARN,
    INSTANCE,
    KMS,
    client_answering,
)


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
