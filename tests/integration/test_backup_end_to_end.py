"""/rds-backup through the engine against a moto server with the sandbox SQL Server, on SQLite and PostgreSQL: the
bot dies right after rds_backup_database was sent and before the stage was saved; the restarted bot finds the task
in rds_task_status (by its S3 ARN, newer than what validate saw) and never sends a second one."""

from __future__ import annotations

from typing import Any

import pytest

from bot.backup_request import parse_backup_command
from bot.domain import JobStatus, StageName
from bot.parser import parse_restore_command
from config.settings import Settings
from tests.integration.test_restore_end_to_end import SimulatedCrash, settings, sql, started

COPY = "s3://rdsbot-backups/copies/prod-copy.bak"
BACKUP = "msdb.dbo.rds_backup_database"
__all__ = ["settings"]  # the fixture: moto seeded, the sandbox on a state file, SQLite and PostgreSQL


def test_a_bot_killed_after_sending_the_backup_resumes_without_sending_it_again(settings: Settings, aws, monkeypatch):
    app, _ = started(settings)
    restored = app.service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U0ALICE", approved=True).job
    app.engine.run_until_idle(timeout_seconds=60)
    instance = app.store.jobs.get_job(restored.id)
    assert instance is not None and instance.status == JobStatus.SUCCEEDED, instance.error if instance else None
    job = app.service.submit_backup(
        parse_backup_command(f"{instance.plan.target_instance_id} prod_backup {COPY}"), "U1"
    )
    assert app.store.jobs.transition(job.id, JobStatus.AWAITING_APPROVAL, JobStatus.QUEUED, [])
    real_save = app.store.jobs.save_job

    def die_before_saving_the_sent_task(saved: Any, events: Any = ()) -> None:
        if any(e.action == "stage.succeeded" and e.detail.get("stage") == StageName.BACKUP_START for e in events):
            raise SimulatedCrash("after rds_backup_database, before the stage was saved")
        real_save(saved, events)

    monkeypatch.setattr(app.store.jobs, "save_job", die_before_saving_the_sent_task)
    with pytest.raises(SimulatedCrash):
        app.engine.run_until_idle(timeout_seconds=60)
    assert [c.procedure for c in sql(app).calls].count(BACKUP) == 1
    app.close()

    again, _ = started(settings)  # a new process on the same store and sandbox state
    try:
        again.engine.run_until_idle(timeout_seconds=60)
        done = again.store.jobs.get_job(job.id)
        assert done is not None and done.status == JobStatus.SUCCEEDED, done.error if done else None
        assert [c.procedure for c in sql(again).calls].count(BACKUP) == 1
        assert "already sent" in done.stage(StageName.BACKUP_START).detail
        head = aws.s3.head_object(Bucket="rdsbot-backups", Key="copies/prod-copy.bak")
        assert done.outputs.backup_bytes == head["ContentLength"] > 0
    finally:
        again.close()
