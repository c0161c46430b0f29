"""One execution of a drill: its phase, timings, checks and cleanup, persisted after every step. Pure."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from bot.domain import Job, StageStatus
from bot.ports import CheckResult


class DrillPhase(StrEnum):
    """The order a drill run moves through; DONE is the only finished phase."""

    STARTING = "starting"  # claimed; the restore job is being submitted
    RESTORING = "restoring"  # the engine drives the drill's restore job
    VALIDATING = "validating"
    REPORTING = "reporting"
    CLEANING = "cleaning"  # waiting out keep_minutes, then deleting what the drill created
    DONE = "done"


class DrillOutcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"


class Timing(BaseModel):
    """Start, end and elapsed of one phase, as dbatools' Test-DbaLastBackup reports them."""

    started_at: datetime
    finished_at: datetime | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.finished_at is None else (self.finished_at - self.started_at).total_seconds()


class BackupUsed(BaseModel):
    bucket: str
    keys: tuple[str, ...]
    total_bytes: int
    last_modified: datetime | None = None


class DrillRun(BaseModel):
    id: str
    drill_name: str
    trigger: str  # "schedule", or "chat:<user>" for /rds-drill run
    phase: DrillPhase = DrillPhase.STARTING
    outcome: DrillOutcome | None = None
    job_id: str | None = None
    instance_id: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
    rto_minutes: float
    backup: BackupUsed | None = None
    restore: Timing | None = None
    validation: Timing | None = None
    cleanup: Timing | None = None
    time_to_restore_seconds: float | None = None
    checks: list[CheckResult] = Field(default_factory=list)
    error: str | None = None
    # Whether the shared option group existed before the drill: only one the drill created is removed after it.
    option_group_preexisted: bool | None = None
    removed: list[str] = Field(default_factory=list)
    kept: list[str] = Field(default_factory=list)
    cleanup_attempts: int = 0
    cleanup_error: str | None = None
    validation_attempts: int = 0

    @property
    def failed(self) -> bool:
        return self.outcome == DrillOutcome.FAILED

    @property
    def backup_age_seconds(self) -> float | None:
        if self.backup is None or self.backup.last_modified is None:
            return None
        return (self.created_at - self.backup.last_modified).total_seconds()

    @property
    def met_rto(self) -> bool | None:
        if self.time_to_restore_seconds is None:
            return None
        return self.time_to_restore_seconds <= self.rto_minutes * 60

    def fail(self, reason: str) -> None:
        """Mark the run failed; the first reason is the one reported."""
        self.outcome = DrillOutcome.FAILED
        self.error = self.error or reason


def restore_timing(job: Job) -> Timing | None:
    """The restore phase straight from the job's stage timestamps: first stage start to last stage end."""
    starts = [s.started_at for s in job.stages if s.started_at is not None]
    ends = [s.finished_at for s in job.stages if s.finished_at is not None]
    if not starts:
        return None
    return Timing(started_at=min(starts), finished_at=max(ends) if ends else None)


def time_to_restore(job: Job) -> float | None:
    """Seconds from the first stage's start to the last stage's end, only when every stage succeeded."""
    if any(s.status != StageStatus.SUCCEEDED for s in job.stages):
        return None
    timing = restore_timing(job)
    return None if timing is None else timing.seconds
