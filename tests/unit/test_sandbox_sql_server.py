"""The emulated RDS SQL Server: the same statements as production, answered the way RDS answers them."""

from __future__ import annotations

import threading

import pytest

from aws.native_restore import (
    RESTORE_DATABASE,
    Connect,
    NativeRestoreError,
    SqlConnectionError,
    SqlNativeRestore,
    status_failure_reason,
)
from aws.sandbox.sql_server import STATUS_COLUMNS, SandboxSqlError, SandboxSqlServer
from bot.domain import InstanceState, TaskLifecycle
from bot.errors import RestoreTaskError

ARN = "arn:aws:s3:::team-backups/sql/prod.bak"
MISSING = "arn:aws:s3:::team-backups/sql/missing.bak"


def instance(name: str = "restore-prod", **changes) -> InstanceState:
    values = {
        "instance_id": name,
        "status": "available",
        "instance_class": "db.m5.large",
        "option_group_name": "rdsbot-sqlserver-se-15-00",
        "option_group_status": "in-sync",
        "endpoint_address": f"{name}.abc.us-east-1.rds.amazonaws.com",
        "endpoint_port": 1433,
    }
    values.update(changes)
    return InstanceState(**values)


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


def sandbox_with(clock, **options) -> tuple[SandboxSqlServer, SqlNativeRestore]:
    options.setdefault("restore_seconds", 100.0)
    options.setdefault("start_delay_seconds", 5.0)
    options.setdefault("cancel_seconds", 3.0)
    options.setdefault("object_exists", lambda arn: arn != MISSING)
    server = SandboxSqlServer(clock=clock, **options)
    connect: Connect = server.connect
    return server, SqlNativeRestore(connect)


def restores(server: SandboxSqlServer) -> int:
    return sum(1 for call in server.calls if call.procedure == RESTORE_DATABASE)


def test_restore_goes_created_then_in_progress_then_success_as_time_passes(clock):
    server, client = sandbox_with(clock)
    target = instance()
    task_id = client.start_restore(target, "Prod", ARN)

    created = client.task_status(target, task_id)
    assert created.lifecycle == TaskLifecycle.CREATED and created.percent_complete == 0
    clock.advance(5)
    assert client.task_status(target, task_id).lifecycle == TaskLifecycle.IN_PROGRESS
    clock.advance(40)
    halfway = client.task_status(target, task_id)
    assert halfway.lifecycle == TaskLifecycle.IN_PROGRESS and halfway.percent_complete == 40
    clock.advance(59)
    assert client.task_status(target, task_id).percent_complete == 99
    clock.advance(1)
    done = client.task_status(target, task_id)
    assert done.lifecycle == TaskLifecycle.SUCCESS and done.percent_complete == 100 and done.finished
    assert "completed successfully" in done.task_info
    assert done.s3_object_arn == ARN and done.database_name == "Prod" and done.task_type == "RESTORE_DB"
    assert server.databases(target.endpoint_address or "") == {"Prod"}


def test_a_missing_backup_object_ends_in_error_with_a_readable_reason(clock):
    _, client = sandbox_with(clock)
    target = instance()
    task_id = client.start_restore(target, "Prod", MISSING)
    clock.advance(10)
    status = client.task_status(target, task_id)
    assert status.lifecycle == TaskLifecycle.ERROR and status.finished
    assert "does not exist" in status.task_info
    assert status_failure_reason(status).startswith(f"{MISSING} does not exist or the restore role cannot read it")


def test_a_multi_file_prefix_asks_the_callable_about_the_prefix(clock):
    asked: list[str] = []

    def object_exists(arn: str) -> bool:
        asked.append(arn)
        return True

    _, client = sandbox_with(clock, object_exists=object_exists)
    client.start_restore(instance(), "Prod", "arn:aws:s3:::team-backups/sql/prod*")
    clock.advance(10)
    client.find_task(instance(), "Prod")
    assert asked == ["arn:aws:s3:::team-backups/sql/prod*"]


def test_restoring_over_an_existing_database_ends_in_error(clock):
    server, client = sandbox_with(clock)
    target = instance()
    client.start_restore(target, "Prod", ARN)
    clock.advance(200)
    # SQL Server's default collation makes "prod" the same name as "Prod".
    second = client.start_restore(target, "prod", ARN)
    clock.advance(10)
    status = client.task_status(target, second)
    assert status.lifecycle == TaskLifecycle.ERROR
    assert "a database named 'prod' already exists" in status_failure_reason(status)
    assert server.databases(target.endpoint_address or "") == {"Prod"}


def test_a_second_restore_of_a_name_with_a_pending_recovery_restore_is_refused_at_once(clock):
    # AWS guide "SQLServer.Procedural.Importing.Native.Using": "You can't submit a restore task for a database that
    # already has a pending restore task with RECOVERY."
    _, client = sandbox_with(clock)
    target = instance()
    first = client.start_restore(target, "Prod", ARN)
    with pytest.raises(RestoreTaskError, match="already pending"):
        client.start_restore(target, "prod", ARN)
    clock.advance(200)
    assert client.task_status(target, first).lifecycle == TaskLifecycle.SUCCESS


def test_the_same_name_on_two_instances_is_two_databases(clock):
    _, client = sandbox_with(clock)
    one, two = instance("restore-one"), instance("restore-two")
    first, second = client.start_restore(one, "Prod", ARN), client.start_restore(two, "Prod", ARN)
    clock.advance(200)
    assert client.task_status(one, first).lifecycle == TaskLifecycle.SUCCESS
    assert client.task_status(two, second).lifecycle == TaskLifecycle.SUCCESS
    # Task ids are per instance, as on RDS.
    assert first == second == 1


def test_at_most_two_tasks_run_at_once_and_the_third_waits_in_created(clock):
    _, client = sandbox_with(clock)
    target = instance()
    ids = [client.start_restore(target, f"Db{n}", ARN) for n in range(3)]
    clock.advance(50)
    assert [client.task_status(target, i).lifecycle for i in ids] == [
        TaskLifecycle.IN_PROGRESS,
        TaskLifecycle.IN_PROGRESS,
        TaskLifecycle.CREATED,
    ]
    clock.advance(55)  # the first two finish at 105; the third starts then
    assert client.task_status(target, ids[2]).lifecycle == TaskLifecycle.IN_PROGRESS
    clock.advance(25)
    assert client.task_status(target, ids[2]).percent_complete == 25
    clock.advance(75)
    assert client.task_status(target, ids[2]).lifecycle == TaskLifecycle.SUCCESS


def test_cancel_moves_to_cancel_requested_then_cancelled_and_leaves_no_database(clock):
    server, client = sandbox_with(clock)
    target = instance()
    task_id = client.start_restore(target, "Prod", ARN)
    clock.advance(30)
    client.cancel(target, task_id)
    requested = client.task_status(target, task_id)
    assert requested.lifecycle == TaskLifecycle.CANCEL_REQUESTED and not requested.finished
    client.cancel(target, task_id)  # a retried cancel is harmless
    clock.advance(3)
    cancelled = client.task_status(target, task_id)
    assert cancelled.lifecycle == TaskLifecycle.CANCELLED and cancelled.percent_complete == 25
    clock.advance(500)
    assert client.task_status(target, task_id).lifecycle == TaskLifecycle.CANCELLED
    assert server.databases(target.endpoint_address or "") == set()
    assert status_failure_reason(cancelled) == f"restore task {task_id} for Prod was cancelled"


def test_cancelling_a_running_task_frees_its_slot_for_the_queued_one(clock):
    _, client = sandbox_with(clock)
    target = instance()
    ids = [client.start_restore(target, f"Db{n}", ARN) for n in range(3)]
    clock.advance(20)
    client.cancel(target, ids[0])
    clock.advance(3)
    assert client.task_status(target, ids[2]).lifecycle == TaskLifecycle.IN_PROGRESS


def test_cancelling_an_unknown_task_is_a_readable_error(clock):
    _, client = sandbox_with(clock)
    with pytest.raises(NativeRestoreError, match="rds_cancel_task failed on restore-prod: Task id 42 does not exist"):
        client.cancel(instance(), 42)


def test_find_task_sees_the_newest_restore_of_that_database(clock):
    _, client = sandbox_with(clock)
    target = instance()
    assert client.find_task(target, "Prod") is None
    client.start_restore(target, "Other", ARN)
    newest = client.start_restore(target, "Prod", ARN)
    found = client.find_task(target, "PROD")
    assert found is not None and found.task_id == newest and found.lifecycle == TaskLifecycle.CREATED


def test_an_option_group_not_in_sync_refuses_the_restore_in_plain_words(clock):
    server, client = sandbox_with(clock)
    with pytest.raises(RestoreTaskError, match="not in-sync on the instance yet") as error:
        client.start_restore(instance(option_group_status="pending-apply"), "Prod", ARN)
    assert "not enabled yet" in error.value.task_info
    assert restores(server) == 1


def test_an_instance_without_an_endpoint_cannot_be_reached(clock):
    _, client = sandbox_with(clock)
    with pytest.raises(SqlConnectionError, match="restore-prod"):
        client.find_task(instance(endpoint_address=None), "Prod")


def test_state_persists_across_two_servers_on_one_state_file(clock, tmp_path):
    path = tmp_path / "sandbox" / "sql.json"
    first_server, first = sandbox_with(clock, state_path=path)
    target = instance()
    task_id = first.start_restore(target, "Prod", ARN)
    clock.advance(50)

    # A restarted engine (or a second process) opens the same file.
    second_server, second = sandbox_with(clock, state_path=path)
    found = second.find_task(target, "Prod")
    assert found is not None and found.task_id == task_id and found.percent_complete == 45
    clock.advance(100)
    assert second.task_status(target, task_id).lifecycle == TaskLifecycle.SUCCESS
    assert first.task_status(target, task_id).lifecycle == TaskLifecycle.SUCCESS
    assert first_server.databases(target.endpoint_address or "") == {"Prod"}

    again = second.start_restore(target, "Prod", ARN)
    clock.advance(10)
    assert first.task_status(target, again).lifecycle == TaskLifecycle.ERROR
    assert restores(first_server) == restores(second_server) == 2
    assert first_server.calls == second_server.calls


def test_every_executed_call_is_recorded_with_its_parameters(clock):
    server, client = sandbox_with(clock)
    target = instance()
    task_id = client.start_restore(target, "Prod", ARN)
    client.task_status(target, task_id)
    client.find_task(target, "Prod")
    client.cancel(target, task_id)
    assert [(call.procedure, call.params) for call in server.calls] == [
        (
            "msdb.dbo.rds_restore_database",
            {"restore_db_name": "Prod", "s3_arn_to_restore_from": ARN, "type": "FULL", "with_norecovery": 0},
        ),
        ("msdb.dbo.rds_task_status", {"task_id": task_id}),
        ("msdb.dbo.rds_task_status", {"db_name": "Prod"}),
        ("msdb.dbo.rds_cancel_task", {"task_id": task_id}),
    ]
    assert restores(server) == 1


def test_concurrent_callers_get_distinct_task_ids(clock):
    server, client = sandbox_with(clock)
    target = instance()
    ids: list[int] = []
    lock = threading.Lock()

    def start(n: int) -> None:
        task_id = client.start_restore(target, f"Db{n}", ARN)
        with lock:
            ids.append(task_id)

    threads = [threading.Thread(target=start, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(ids) == list(range(1, 21)) and restores(server) == 20


# Speaking SQL: only what procedures.py sends is understood.


def raw_cursor(clock):
    server = SandboxSqlServer(clock=clock)
    return server.connect(instance()).cursor()


def test_status_answers_carry_the_rds_column_names(clock):
    cursor = raw_cursor(clock)
    cursor.execute("exec msdb.dbo.rds_restore_database @restore_db_name=%s, @s3_arn_to_restore_from=%s", ("Prod", ARN))
    assert cursor.description is not None and cursor.fetchall() == []  # an empty first set
    assert cursor.nextset()
    assert cursor.description is not None
    assert tuple(column[0] for column in cursor.description) == STATUS_COLUMNS
    row = dict(zip(STATUS_COLUMNS, cursor.fetchall()[0], strict=True))
    assert row["task_id"] == 1 and row["lifecycle"] == "CREATED" and row["S3_object_arn"] == ARN
    assert not cursor.nextset()
    cursor.execute("exec msdb.dbo.rds_task_status @task_id=%s", (1,))
    assert len(cursor.fetchall()) == 1


@pytest.mark.parametrize(
    ("sql", "params", "number", "words"),
    [
        ("exec msdb.dbo.rds_drop_db @db_name=%s", ("Prod",), 2812, "Could not find stored procedure"),
        ("exec msdb.dbo.rds_drop_database @db_name=%s", ("Prod",), 3701, "because it does not exist"),
        ("exec msdb.dbo.rds_task_status @task_id=%s, @db=%s", (1, "x"), 8145, "is not a parameter"),
        ("exec msdb.dbo.rds_restore_database @restore_db_name=%s", ("Prod",), 201, "@s3_arn_to_restore_from"),
        ("exec msdb.dbo.rds_cancel_task @task_id=%s, @task_id=%s", (1, 1), 8143, "supplied multiple times"),
        ("exec msdb.dbo.rds_task_status @task_id=%s", ("abc",), 8114, "Error converting"),
        ("select name from sys.databases", (), 102, "Incorrect syntax"),
        ("exec msdb.dbo.rds_task_status @task_id=%s", (), 0, "1 placeholders but 0 parameters"),
        (
            "exec msdb.dbo.rds_restore_database @restore_db_name='Prod', @s3_arn_to_restore_from=%s",
            (ARN,),
            0,
            "@restore_db_name must be bound as a parameter",
        ),
    ],
)
def test_anything_else_is_refused_like_sql_server_would(clock, sql, params, number, words):
    with pytest.raises(SandboxSqlError) as error:
        raw_cursor(clock).execute(sql, params)
    assert error.value.number == number and words in error.value.text


def test_inside_a_transaction_the_procedures_refuse(clock):
    server = SandboxSqlServer(clock=clock)
    connection = server.connect(instance())
    connection.autocommit = False
    with pytest.raises(SandboxSqlError, match="inside a user transaction"):
        connection.cursor().execute("exec msdb.dbo.rds_task_status @task_id=%s", (1,))
    # The client turns autocommit back on before it runs anything.
    SqlNativeRestore(lambda target: connection).find_task(instance(), "Prod")
