"""The sandbox's rds_ procedures held to the AWS guide "SQLServer.Procedural.Importing.Native.Using" (usage, task
types, RESTORING, the response columns) and its troubleshooting texts; unknown parameters refused as SQL Server
refuses them (messages 8144, 8145). A sandbox that accepted anything, or always said RESTORE_DB, fails these."""

from __future__ import annotations

import pytest

from aws.native_restore import SqlNativeRestore, procedures, status_failure_reason
from aws.native_restore.checks import TABLE_EXISTS
from aws.native_restore.procedures import RestoreType, Tuning
from aws.sandbox.backup_content import manifest_bytes, parse_manifest
from aws.sandbox.sql_server import STATUS_COLUMNS, SandboxSqlError, SandboxSqlServer
from aws.sandbox.sql_server.aws_view import MemoryAwsView
from bot.domain import InstanceState, TaskLifecycle
from bot.errors import RestoreTaskError
from bot.restore_chain import ChainStep, StepKind

BUCKET = "rdsbot-backups"
ARN = f"arn:aws:s3:::{BUCKET}/prod.bak"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


class Clock:
    now = 1_000.0

    def __call__(self) -> float:
        return self.now


def instance(**changes) -> InstanceState:
    values = {
        "instance_id": "rdsbot-strict",
        "status": "available",
        "instance_class": "db.m5.large",
        "option_group_status": "in-sync",
        "endpoint_address": "rdsbot-strict.abc.us-east-1.rds.amazonaws.com",
        "endpoint_port": 1433,
        "arn": "arn:aws:rds:us-east-1:123456789012:db:rdsbot-strict",
    }
    values.update(changes)
    return InstanceState(**values)


@pytest.fixture
def world():
    clock, aws = Clock(), MemoryAwsView()
    aws.objects[f"{BUCKET}/prod.bak"] = 1000
    aws.bodies[f"{BUCKET}/prod.bak"] = manifest_bytes({"tables": {"dbo.orders": 5}})
    server = SandboxSqlServer(
        clock=clock,
        restore_seconds=10,
        start_delay_seconds=1,
        aws=aws,
        object_exists=lambda arn: bool(aws.matched_objects(arn)),
        backup_content=lambda arn: next(
            (
                parse_manifest(aws.bodies[f"{BUCKET}/{k}"])
                for k, _ in aws.matched_objects(arn)
                if f"{BUCKET}/{k}" in aws.bodies
            ),
            None,
        ),
    )
    return clock, aws, server, SqlNativeRestore(server.connect)


def finish_all(clock: Clock) -> None:
    clock.now += 100


def status(client, task_id):
    return client.task_status(instance(), task_id)


def test_every_documented_restore_parameter_is_accepted(world):
    _, _, _, client = world
    statement = procedures.restore_database(
        "Prod",
        ARN,
        keep_cdc=True,
        data_file_volume="H:",
        log_file_volume="i:",
        kms_key_arn=KEY_ARN,
        tuning=Tuning(block_size=65536, max_transfer_size=4194304, buffer_count=10),
    )
    assert status(client, client.start_task(instance(), statement)).task_type == "RESTORE_DB"


@pytest.mark.parametrize(
    "procedure",
    [
        "rds_restore_database",
        "rds_restore_log",
        "rds_finish_restore",
        "rds_drop_database",
        "rds_backup_database",
        "rds_cancel_task",
        "rds_task_status",
    ],
)
def test_a_parameter_the_guide_does_not_list_is_refused_with_8145(world, procedure):
    cursor = world[2].connect(instance()).cursor()
    with pytest.raises(SandboxSqlError) as caught:
        cursor.execute(f"exec msdb.dbo.{procedure} @with_recovery=%s", (1,))
    assert (caught.value.number, caught.value.text) == (
        8145,
        f"@with_recovery is not a parameter for procedure {procedure}.",
    )


def test_more_positional_arguments_than_parameters_is_refused_with_8144(world):
    cursor = world[2].connect(instance()).cursor()
    with pytest.raises(SandboxSqlError) as caught:
        cursor.execute("exec msdb.dbo.rds_finish_restore %s, %s", ("Prod", "extra"))
    assert caught.value.number == 8144 and "has too many arguments specified" in caught.value.text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("block_size", 1000),
        ("max_transfer_size", 100_000),
        ("max_transfer_size", 8 * 2**20),
        ("data_file_volume", "E:"),
        ("keep_cdc", 2),
        ("type", "LOG"),
    ],
)
def test_values_outside_the_documented_ones_are_refused(world, name, value):
    cursor = world[2].connect(instance()).cursor()
    with pytest.raises(SandboxSqlError, match=f"@{name}"):
        cursor.execute(
            f"exec msdb.dbo.rds_restore_database @restore_db_name=%s, @s3_arn_to_restore_from=%s, @{name}=%s",
            ("Prod", ARN, value),
        )


def test_a_norecovery_chain_has_its_task_types_and_leaves_the_database_restoring_until_finished(world):
    clock, _, server, client = world
    target = instance()
    full = client.start_task(target, procedures.restore_database("Prod", ARN, with_norecovery=True))
    finish_all(clock)
    assert status(client, full).task_type == "RESTORE_DB_NORECOVERY"
    cursor = server.connect(target).cursor()
    with pytest.raises(SandboxSqlError) as caught:  # RESTORING: not open to queries
        cursor.execute(TABLE_EXISTS, ("Prod", "dbo", "orders"))
    assert caught.value.number == 927

    diff = procedures.restore_database("Prod", ARN, restore_type=RestoreType.DIFFERENTIAL, with_norecovery=True)
    log = procedures.restore_log("Prod", ARN)  # NORECOVERY by default, as the guide says
    types = []
    for statement in (diff, log, procedures.finish_restore("Prod")):
        task_id = client.start_task(target, statement)
        finish_all(clock)
        types.append((status(client, task_id).task_type, status(client, task_id).lifecycle))
    assert types == [
        ("RESTORE_DB_DIFFERENTIAL_NORECOVERY", TaskLifecycle.SUCCESS),
        ("RESTORE_DB_LOG_NORECOVERY", TaskLifecycle.SUCCESS),
        ("FINISH_RESTORE", TaskLifecycle.SUCCESS),
    ]
    cursor.execute(TABLE_EXISTS, ("Prod", "dbo", "orders"))
    assert cursor.fetchall() == [(1,)]


def test_recovery_task_types_for_differential_and_log(world):
    clock, _, _, client = world
    target = instance()
    client.start_task(target, procedures.restore_database("Prod", ARN, with_norecovery=True))
    finish_all(clock)
    log = client.start_task(target, procedures.restore_log("Prod", ARN, with_norecovery=False))
    finish_all(clock)
    assert status(client, log).task_type == "RESTORE_DB_LOG"
    with pytest.raises(RestoreTaskError, match="RESTORING"):  # open now: no further log or differential
        client.start_task(target, procedures.restore_log("Prod", ARN))


def test_a_differential_needs_with_norecovery_spelled_out_and_a_restoring_database(world):
    cursor = world[2].connect(instance()).cursor()
    sql = "exec msdb.dbo.rds_restore_database @restore_db_name=%s, @s3_arn_to_restore_from=%s, @type=%s"
    with pytest.raises(SandboxSqlError, match="@with_norecovery is required"):
        cursor.execute(sql, ("Prod", ARN, "DIFFERENTIAL"))
    with pytest.raises(SandboxSqlError, match="RESTORING"):
        cursor.execute(sql + ", @with_norecovery=%s", ("Prod", ARN, "DIFFERENTIAL", 0))


def test_full_norecovery_with_keep_cdc_is_refused(world):
    cursor = world[2].connect(instance()).cursor()
    with pytest.raises(SandboxSqlError, match="NORECOVERY and KEEP_CDC"):
        cursor.execute(
            "exec msdb.dbo.rds_restore_database @restore_db_name=%s, @s3_arn_to_restore_from=%s, "
            "@with_norecovery=%s, @keep_cdc=%s",
            ("Prod", ARN, 1, 1),
        )


def test_an_empty_s3_arn_gets_the_documented_text(world):
    cursor = world[2].connect(instance()).cursor()
    with pytest.raises(SandboxSqlError) as caught:
        cursor.execute("exec msdb.dbo.rds_restore_log @restore_db_name=%s, @s3_arn_to_restore_from=%s", ("P", ""))
    assert caught.value.text == "S3 ARN prefix cannot be empty"


def test_finish_needs_a_restoring_database_and_cannot_be_cancelled(world):
    clock, _, _, client = world
    target = instance()
    with pytest.raises(RestoreTaskError, match="RESTORING"):
        client.start_task(target, procedures.finish_restore("Prod"))
    client.start_task(target, procedures.restore_database("Prod", ARN, with_norecovery=True))
    finish_all(clock)
    finish = client.start_task(target, procedures.finish_restore("Prod"))
    with pytest.raises(Exception, match="cannot be cancelled"):
        client.cancel(target, finish)


def test_a_restoring_database_can_be_dropped_but_not_while_a_restore_is_pending(world):
    clock, _, server, client = world
    target = instance()
    client.start_task(target, procedures.restore_database("Prod", ARN, with_norecovery=True))
    with pytest.raises(Exception, match="pending restore"):
        client.drop_database(target, "Prod")
    finish_all(clock)
    client.drop_database(target, "prod")
    assert server.databases(target.endpoint_address or "") == set()
    client.start_task(target, procedures.restore_database("Prod", ARN))  # the name is free again


def test_a_multi_file_backup_writes_one_of_n_files_that_restore_again(world):
    clock, aws, server, client = world
    target = instance()
    client.start_restore(target, "Prod", ARN)
    finish_all(clock)
    backup = procedures.backup_database("Prod", f"arn:aws:s3:::{BUCKET}/copy*.bak", number_of_files=3)
    task_id = client.start_task(target, backup)
    finish_all(clock)

    done = status(client, task_id)
    assert (done.task_type, done.lifecycle) == ("BACKUP_DB", TaskLifecycle.SUCCESS)
    assert sorted(k for k in aws.objects if "copy" in k) == [f"{BUCKET}/copy{n}-of-3.bak" for n in (1, 2, 3)]
    again = client.start_restore(target, "Prod_copy", f"arn:aws:s3:::{BUCKET}/copy*")
    finish_all(clock)
    assert status(client, again).lifecycle == TaskLifecycle.SUCCESS
    cursor = server.connect(target).cursor()
    cursor.execute(TABLE_EXISTS, ("Prod_copy", "dbo", "orders"))
    assert cursor.fetchall() == [(1,)]


def test_a_backup_onto_an_existing_file_without_overwrite_fails_with_the_documented_text(world):
    clock, _, _, client = world
    target = instance()
    client.start_restore(target, "Prod", ARN)
    finish_all(clock)
    task_id = client.start_task(target, procedures.backup_database("Prod", ARN))
    finish_all(clock)
    failed = status(client, task_id)
    assert failed.task_type == "BACKUP_DB" and failed.lifecycle == TaskLifecycle.ERROR
    assert "Please reissue task with correct type and overwrite property" in failed.task_info


def start_and_fail(world, arn: str = ARN, **changes) -> str:
    clock, _, _, client = world
    task_id = client.start_restore(instance(**changes), "Prod", arn, changes.pop("kms", None))
    finish_all(clock)
    failed = client.task_status(instance(**changes), task_id)
    assert failed.lifecycle == TaskLifecycle.ERROR
    return str(failed.task_info)


def test_more_than_ten_files_fail_with_the_documented_text(world):
    for n in range(11):
        world[1].objects[f"{BUCKET}/set_{n:02d}.bak"] = 10
    assert "unable to restore from more than 10 backup file(s)" in start_and_fail(world, f"arn:aws:s3:::{BUCKET}/set_*")


def test_a_bucket_in_another_region_fails_with_the_documented_text(world):
    world[1].regions[BUCKET] = "eu-west-1"
    text = start_and_fail(world)
    assert "Please specify a bucket that is in the same region as RDS instance" in text
    assert "copy the backup to a bucket in the instance's region" in status_failure_reason(
        world[3].task_status(instance(), 1)
    )


def test_a_kms_key_the_role_may_not_use_fails_with_the_documented_text(world):
    denied = (
        "User arn:aws:iam::123456789012:role/rdsbot-native-restore is not authorized to perform kms:Decrypt "
        f"on resource {KEY_ARN}"
    )
    world[1].key_problems[KEY_ARN] = denied
    clock, _, _, client = world
    task_id = client.start_restore(instance(), "Prod", ARN, KEY_ARN)
    finish_all(clock)
    failed = client.task_status(instance(), task_id)
    assert denied in failed.task_info and "make it a key user" in (failed.reason or "")


def test_express_over_ten_gb_fails_and_other_editions_do_not(world):
    world[1].objects[f"{BUCKET}/prod.bak"] = 11 * 2**30
    world[1].engines["rdsbot-strict"] = "sqlserver-ex"
    assert "licensed limit of 10240 MB per database" in start_and_fail(world)
    world[1].engines["rdsbot-strict"] = "sqlserver-se"
    clock, _, _, client = world
    task_id = client.start_restore(instance(), "Other", ARN)
    finish_all(clock)
    assert client.task_status(instance(), task_id).lifecycle == TaskLifecycle.SUCCESS


def test_a_name_differing_only_by_case_fails_with_the_documented_text(world):
    clock, _, _, client = world
    client.start_restore(instance(), "Prod", ARN)
    finish_all(clock)
    task_id = client.start_restore(instance(), "PROD", ARN)
    finish_all(clock)
    assert (
        "Two databases that differ only by case or accent are not allowed"
        in client.task_status(instance(), task_id).task_info
    )


def test_the_option_not_in_sync_is_refused_with_the_documented_text(world):
    with pytest.raises(RestoreTaskError, match="not in-sync"):
        world[3].start_restore(instance(option_group_status="applying"), "Prod", ARN)


def test_rds_task_status_answers_every_documented_column():
    assert STATUS_COLUMNS == (
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
        "filepath",
        "overwrite_file",
    )


# A restore chain: @stopat taken and shown (the sandbox once parsed it and dropped it), every step listed by
# database with its type and S3 ARN, which is what a resumed chain matches its sent steps by.
STOP = "2026-11-26 03:57:09"
STEPS = (
    ChainStep(kind=StepKind.FULL, s3_arn=ARN),
    ChainStep(kind=StepKind.DIFFERENTIAL, s3_arn=ARN),
    ChainStep(kind=StepKind.LOG, s3_arn=ARN, stop_at=STOP),
    ChainStep(kind=StepKind.FINISH),
)


def test_each_chain_step_is_one_documented_statement_with_values_bound():
    sent = [procedures.chain_statement("Prod", step) for step in STEPS]
    assert [(s.procedure, dict(s.params).get("type"), dict(s.params).get("with_norecovery")) for s in sent] == [
        (procedures.RESTORE_DATABASE, "FULL", 1),
        (procedures.RESTORE_DATABASE, "DIFFERENTIAL", 1),
        (procedures.RESTORE_LOG, None, 1),
        (procedures.FINISH_RESTORE, None, None),
    ]
    assert dict(sent[2].params)["stopat"] == STOP and STOP not in sent[2].sql


def test_stopat_shows_in_rds_task_status_and_every_step_is_listed_by_database(world):
    clock, _, server, client = world
    target = instance()
    task_ids = []
    for step in STEPS:
        task_ids.append(client.start_chain_step(target, "Prod", step))
        finish_all(clock)
    tasks = client.tasks_for(target, "prod")  # names compare case-insensitively, as RDS's lookup does
    assert [(t.task_id, t.task_type, t.s3_object_arn) for t in tasks] == [
        (task_ids[0], "RESTORE_DB_NORECOVERY", ARN),
        (task_ids[1], "RESTORE_DB_DIFFERENTIAL_NORECOVERY", ARN),
        (task_ids[2], "RESTORE_DB_LOG_NORECOVERY", ARN),
        (task_ids[3], "FINISH_RESTORE", None),
    ]
    assert f"stopped at {STOP}" in tasks[2].task_info
    assert all("stopped at" not in t.task_info for t in (tasks[0], tasks[1]))
    assert "Prod" in server.databases(target.endpoint_address or "")


def test_database_exists_compares_names_as_sql_server_does_and_counts_a_restoring_database(world):
    # AWS guide "SQLServer.Procedural.Importing" (limitations): a database of the same name must not exist, and
    # names differing only by case collide; DB_ID finds a database left RESTORING too (rds_drop_database drops it).
    clock, _, _, client = world
    target = instance()
    assert client.database_exists(target, "Prod") is False
    client.start_task(target, procedures.restore_database("Prod", ARN, with_norecovery=True))
    finish_all(clock)
    assert client.database_exists(target, "prod") is True  # RESTORING, and in another case
    client.drop_database(target, "PROD")
    assert client.database_exists(target, "Prod") is False
    with pytest.raises(procedures.NativeRestoreError, match="does not exist"):
        client.drop_database(target, "Prod")
