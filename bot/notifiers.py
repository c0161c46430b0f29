"""Notifiers that are not Slack: fan-out to several listeners, and a printer for the demo and the console."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot import render
from bot.domain import Job, Stage
from bot.lifecycle.model import InstanceLifecycle
from bot.ports import Notifier
from bot.slack_text import plain

log = logging.getLogger(__name__)


class NotAnnounced(Exception):
    """A listener failed to take a job's completion; the engine keeps the finish unannounced and asks again."""


class FanoutNotifier:
    """Sends each event to every listener; a listener that fails is logged, never allowed to stop the engine."""

    def __init__(self, *listeners: Notifier) -> None:
        self.listeners: list[Notifier] = list(listeners)
        # job id -> the listeners (by position) that took its completion, while another has not yet.
        self._finished_by: dict[str, set[int]] = {}

    def add(self, listener: Notifier) -> None:
        self.listeners.append(listener)

    def stage_changed(self, job: Job, stage: Stage) -> None:
        for listener in self.listeners:
            self._safely(lambda n=listener: n.stage_changed(job, stage))  # type: ignore[misc]

    def progress(self, job: Job, percent: int) -> None:
        for listener in self.listeners:
            self._safely(lambda n=listener: n.progress(job, percent))  # type: ignore[misc]

    def job_finished(self, job: Job) -> None:
        """Every listener has its turn; if one failed, NotAnnounced once all have, and the engine's next ask goes
        only to those that have not taken it (a metric counted once, not once per ask)."""
        took = self._finished_by.setdefault(job.id, set())
        failed = []
        for position, listener in enumerate(self.listeners):
            if position not in took:
                if self._safely(lambda n=listener: n.job_finished(job)):  # type: ignore[misc]
                    took.add(position)
                else:
                    failed.append(type(listener).__name__)
        if failed:
            raise NotAnnounced(f"{job.id}: {', '.join(failed)} failed")
        del self._finished_by[job.id]

    def request_expired(self, job: Job, deadline: datetime) -> None:
        for listener in self.listeners:
            self._safely(lambda n=listener: n.request_expired(job, deadline))  # type: ignore[misc]

    def keep_reminder(self, job: Job, lifecycle: InstanceLifecycle) -> None:
        for listener in self.listeners:
            self._safely(lambda n=listener: n.keep_reminder(job, lifecycle))  # type: ignore[misc]

    def lifecycle_changed(self, job: Job, lifecycle: InstanceLifecycle, text: str) -> None:
        for listener in self.listeners:
            self._safely(lambda n=listener: n.lifecycle_changed(job, lifecycle, text))  # type: ignore[misc]

    @staticmethod
    def _safely(call: Callable[[], None]) -> bool:
        try:
            call()
        except Exception:
            log.exception("notifier failed")
            return False
        return True


class PrintNotifier:
    """Writes stage transitions, progress (only when it moves) and the completion through `write`, as plain text
    (the renderings are Slack mrkdwn: escaped request fields are shown as typed)."""

    def __init__(self, write: Callable[[str], None] = print) -> None:
        self.write = write
        self._last_percent: dict[str, int] = {}

    def stage_changed(self, job: Job, stage: Stage) -> None:
        self.write(plain(render.stage_line(job, stage)))

    def progress(self, job: Job, percent: int) -> None:
        if self._last_percent.get(job.id) != percent:
            self._last_percent[job.id] = percent
            self.write(plain(render.progress_line(job, percent)))

    def job_finished(self, job: Job) -> None:
        self.write(plain(render.completion(job)))

    def request_expired(self, job: Job, deadline: datetime) -> None:
        self.write(render.expired(job, deadline))

    def keep_reminder(self, job: Job, lifecycle: InstanceLifecycle) -> None:
        self.write(render.keep_reminder(job, lifecycle.delete_at) + f"\n  keep it longer: keep {job.id}")

    def lifecycle_changed(self, job: Job, lifecycle: InstanceLifecycle, text: str) -> None:
        self.write(f"[{job.id}] {text}")
