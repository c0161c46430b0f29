"""One restore instance's life after its job ended: when it goes, whether its owner was reminded, and how far its
deletion got. Persisted after every step, so a restarted bot resumes a deletion where it stopped. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from bot.domain import Job


class LifecyclePhase(StrEnum):
    KEEPING = "keeping"  # the instance is up until delete_at
    DELETING = "deleting"  # claimed: the instance, then the shared resources it used; resumed after a crash
    DELETED = "deleted"
    LEFT_ALONE = "left_alone"  # the live instance is not tagged as this job's: rdsbot never touches it
    UNMANAGED = "unmanaged"  # nothing to delete (nothing made), a drill, or planned before instances had a window

    @property
    def finished(self) -> bool:
        return self in {LifecyclePhase.DELETED, LifecyclePhase.LEFT_ALONE, LifecyclePhase.UNMANAGED}


class InstanceLifecycle(BaseModel):
    """The lifecycle record of one job's instance; `version` makes every write a compare-and-set."""

    job_id: str
    region: str
    instance_id: str
    phase: LifecyclePhase
    completed_at: datetime  # when the restore job ended: the keep window and its cap count from here
    keep_seconds: int | None = None
    delete_at: datetime | None = None
    reminded_at: datetime | None = None
    extensions: int = 0
    # Who started the deletion: the window's end (the lifecycle actor) or a person (/rds-restore delete).
    delete_requested_by: str | None = None
    final_snapshot_id: str | None = None  # decided when the deletion is claimed, so a resumed one asks the same
    removed: list[str] = Field(default_factory=list)
    kept: list[str] = Field(default_factory=list)
    waiting: str | None = None  # what the last deletion pass is still waiting for
    attempts: int = 0
    finished_at: datetime | None = None
    version: int = 0

    @property
    def window(self) -> timedelta | None:
        return None if self.keep_seconds is None else timedelta(seconds=self.keep_seconds)

    def claimed_by(self, actor: str, final_snapshot_id: str | None, at: datetime | None = None) -> InstanceLifecycle:
        """This record claimed for deletion by `actor` (the window's end, or a person asking at `at`)."""
        update: dict[str, object] = {
            "phase": LifecyclePhase.DELETING,
            "delete_requested_by": actor,
            "final_snapshot_id": final_snapshot_id,
        }
        if at is not None:
            update["delete_at"] = at
        return self.model_copy(update=update)


def final_snapshot_id(job: Job) -> str:
    """rdsbot-final-<job>-<instance>: unique per job, so a later job reusing the name finds no snapshot in its way.

    DBSnapshotIdentifier rules (AWS API reference 'API_DeleteDBInstance', FinalDBSnapshotIdentifier): 1 to 255
    letters, digits or hyphens, first a letter, no two hyphens in a row, not ending in a hyphen. Job ids are
    letters and digits and instance ids already obey the same rules, so the joined name does too.
    """
    return f"rdsbot-final-{job.id}-{job.plan.target_instance_id}"[:255].rstrip("-")


def new_lifecycle(job: Job, now: datetime) -> InstanceLifecycle:
    """The record a finished job starts with: kept for its window if it made anything (a failed job's subnet and
    security groups bill nothing, but would pile up) and was planned with a window."""
    completed = job.finished_at or now
    keep = job.plan.keep
    managed = keep is not None and not job.is_drill and bool(job.created_resources)
    return InstanceLifecycle(
        job_id=job.id,
        region=job.plan.region,
        instance_id=job.plan.target_instance_id,
        phase=LifecyclePhase.KEEPING if managed else LifecyclePhase.UNMANAGED,
        completed_at=completed,
        keep_seconds=job.plan.keep_seconds,
        delete_at=completed + keep if managed and keep is not None else None,
    )
