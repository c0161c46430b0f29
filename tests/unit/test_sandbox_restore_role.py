"""The sandbox's rds_restore_database reads the backup as the role its option group's SQLSERVER_BACKUP_RESTORE names,
which needs s3:GetObject on every object and s3:ListBucket on the bucket (AWS guide
"SQLServer.Procedural.Importing.Native.Enabling"): a role that may not fails the task as RDS fails it on an S3
AccessDenied. A sandbox that restored as any role would let rdsbot's check of a team's role go untested end to end."""

from __future__ import annotations

from bot.domain import TaskLifecycle
from tests.unit.test_sandbox_procedures_strict import BUCKET, finish_all, instance, start_and_fail, world

__all__ = ["world"]  # the fixture, used by name
GROUP = "team-og"


def test_a_role_that_may_not_read_one_file_of_a_striped_backup_fails_the_task_forbidden(world):
    for n in (1, 2):
        world[1].objects[f"{BUCKET}/set-{n}-of-2.bak"] = 10
    world[1].role_gaps[GROUP] = [f"s3:GetObject on arn:aws:s3:::{BUCKET}/set-2-of-2.bak"]
    text = start_and_fail(world, f"arn:aws:s3:::{BUCKET}/set-*", option_group_name=GROUP)
    assert "Error Code Forbidden" in text and f"s3:GetObject on arn:aws:s3:::{BUCKET}/set-2-of-2.bak" in text


def test_a_role_lacking_only_what_the_restore_does_not_read_restores(world):
    clock, aws, _, client = world
    aws.role_gaps[GROUP] = [f"s3:GetObject on arn:aws:s3:::{BUCKET}/other.bak", "s3:PutObject on *"]
    task_id = client.start_restore(instance(option_group_name=GROUP), "Prod", f"arn:aws:s3:::{BUCKET}/prod.bak")
    finish_all(clock)
    assert client.task_status(instance(option_group_name=GROUP), task_id).lifecycle == TaskLifecycle.SUCCESS
