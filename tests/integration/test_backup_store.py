"""A backup job in the store (SQLite and PostgreSQL): its kind, plan section and four stages read back as written,
so a restarted engine resumes it with the backup stage table, not the restore's."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.backup_target import BackupTarget, BackupType
from bot.domain import BACKUP_STAGE_ORDER, Job, JobKind, JobStatus, StageName, StageStatus
from bot.store import SqlStore
from tests.support.factories import make_plan

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_a_backup_job_reads_back_with_its_kind_target_and_stages(database_url: str) -> None:
    target = BackupTarget(
        bucket="rdsbot-backups",
        key="copies/p-*.bak",
        files=3,
        backup_type=BackupType.DIFFERENTIAL,
        overwrite=True,
        overwrites=("s3://rdsbot-backups/copies/p-1-of-3.bak",),
        destination_pattern="s3://rdsbot-backups/copies/*",
    )
    job = Job(
        id="jbackup01", requester="U_ALICE", plan=make_plan().model_copy(update={"backup": target}), created_at=T0
    )
    job.status = JobStatus.RUNNING
    job.stage(StageName.VALIDATE).status = StageStatus.SUCCEEDED
    job.outputs.prior_backup_tasks = (4, 9)
    with SqlStore(database_url) as store:
        store.jobs.add_job(job, [])
        store.jobs.save_job(job)
        loaded = store.jobs.get_job("jbackup01")
        assert loaded is not None and [j.id for j in store.jobs.unfinished_jobs()] == ["jbackup01"]
    assert loaded.kind == JobKind.BACKUP and loaded.plan.backup == target
    assert [s.name for s in loaded.stages] == list(BACKUP_STAGE_ORDER)
    assert loaded.stage(StageName.VALIDATE).status == StageStatus.SUCCEEDED
    assert loaded.outputs.prior_backup_tasks == (4, 9)
    assert loaded.plan.backup.object_keys() == tuple(f"copies/p-{n}-of-3.bak" for n in (1, 2, 3))
