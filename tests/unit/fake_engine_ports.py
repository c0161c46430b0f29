"""The engine's two non-AWS ports as fakes: a clock that sleeps by moving on, and a notifier that records what it
was told. Split from fakes.py (the AWS fake), which re-exports them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain import Job
from bot.lifecycle.model import InstanceLifecycle


class FakeClock:
    def __init__(self) -> None:
        self.current = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class RecordingNotifier:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def stage_changed(self, job: Job, stage: object) -> None:
        self.messages.append(f"stage {getattr(stage, 'name', '')} {getattr(stage, 'status', '')}")

    def progress(self, job: Job, percent: int) -> None:
        self.messages.append(f"progress {percent}")

    def job_finished(self, job: Job) -> None:
        self.messages.append(f"finished {job.status}")

    def request_expired(self, job: Job, deadline: datetime) -> None:
        self.messages.append(f"expired {job.id} {job.status} at {deadline.isoformat()}")

    def keep_reminder(self, job: Job, lifecycle: InstanceLifecycle) -> None:
        self.messages.append(f"reminder {job.id} {lifecycle.delete_at:%H:%M:%S}")

    def lifecycle_changed(self, job: Job, lifecycle: InstanceLifecycle, text: str) -> None:
        self.messages.append(f"lifecycle {job.id} {lifecycle.phase}: {text}")
