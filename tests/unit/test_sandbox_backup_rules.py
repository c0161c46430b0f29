"""The sandbox's rds_backup_database held to the AWS guide "SQLServer.Procedural.Importing.Native.Using" (backing up
a database): a differential needs a full backup as its base (SQL Server error 3035, and a snapshot such as the one
RDS takes after a restore breaks the chain), the bucket must be in the instance's region, and sys.databases tells
ONLINE from RESTORING. A sandbox that backed up anything anywhere fails these."""

from __future__ import annotations

from aws.native_restore import procedures
from aws.native_restore.procedures import RestoreType
from bot.domain import TaskLifecycle
from tests.unit.test_sandbox_procedures_strict import ARN, BUCKET, finish_all, instance, status, world

__all__ = ["world"]  # the fixture, shared with the strict procedure tests
COPY = f"arn:aws:s3:::{BUCKET}/copies/prod-copy.bak"
DIFF = f"arn:aws:s3:::{BUCKET}/copies/prod-diff.bak"


def test_a_differential_right_after_a_restore_fails_with_sql_server_error_3035(world):
    clock, aws, _, client = world
    client.start_restore(instance(), "Prod", ARN)
    finish_all(clock)
    task_id = client.start_task(
        instance(), procedures.backup_database("Prod", DIFF, backup_type=RestoreType.DIFFERENTIAL)
    )
    finish_all(clock)
    failed = status(client, task_id)
    assert (failed.task_type, failed.lifecycle) == ("BACKUP_DB_DIFFERENTIAL", TaskLifecycle.ERROR)
    assert 'Cannot perform a differential backup for database "Prod", because a current database backup does not' in (
        failed.task_info
    )
    assert f"{BUCKET}/copies/prod-diff.bak" not in aws.objects


def test_a_differential_after_a_full_backup_succeeds_and_writes_its_file(world):
    clock, aws, _, client = world
    client.start_restore(instance(), "Prod", ARN)
    finish_all(clock)
    client.start_task(instance(), procedures.backup_database("Prod", COPY))
    finish_all(clock)
    task_id = client.start_task(
        instance(), procedures.backup_database("Prod", DIFF, backup_type=RestoreType.DIFFERENTIAL)
    )
    finish_all(clock)
    assert status(client, task_id).lifecycle == TaskLifecycle.SUCCESS
    assert f"{BUCKET}/copies/prod-diff.bak" in aws.objects


def test_a_backup_to_a_bucket_in_another_region_fails_with_the_documented_text(world):
    clock, aws, _, client = world
    restored = client.start_restore(instance(), "Prod", ARN)
    finish_all(clock)
    assert status(client, restored).lifecycle == TaskLifecycle.SUCCESS  # restored from the bucket in its region
    aws.regions[BUCKET] = "eu-west-1"
    task_id = client.start_task(instance(), procedures.backup_database("Prod", COPY))
    finish_all(clock)
    failed = status(client, task_id)
    assert failed.lifecycle == TaskLifecycle.ERROR
    assert "Please specify a bucket that is in the same region as RDS instance" in failed.task_info
    assert f"{BUCKET}/copies/prod-copy.bak" not in aws.objects


def test_sys_databases_says_online_restoring_or_nothing(world):
    clock, _, _, client = world
    client.start_restore(instance(), "Prod", ARN)
    client.start_task(instance(), procedures.restore_database("Half", ARN, with_norecovery=True))
    finish_all(clock)
    assert client.database_state(instance(), "prod") == "ONLINE"  # compared as the server's collation does
    assert client.database_state(instance(), "Half") == "RESTORING"
    assert client.database_state(instance(), "Missing") is None
