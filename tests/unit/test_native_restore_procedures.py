"""The T-SQL side of native restore, what is sent: exact statements, every value bound, bad input refused before
anything reaches the server. Reading the answers: test_native_restore_answers.py; plain reasons:
test_native_restore_reasons.py."""

from __future__ import annotations

import pytest

from aws.native_restore import (
    CANCEL_TASK,
    RESTORE_DATABASE,
    TASK_STATUS,
    SqlNativeRestore,
    procedures,
)
from bot.errors import RequestError
from bot.ports import NativeRestore
from tests.unit.native_restore_fakes import (
    ARN,
    INSTANCE,
    KMS,
    RecordingConnection,
    client_answering,
    status_row,
    status_set,
)


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
