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
    """A listener failed to take a job's completion, expiry or keep reminder: its caller keeps the mark (or the
    record unsaved) and asks again."""


class FanoutNotifier:
    """Sends each event to every listener; a listener that fails is logged, never allowed to stop the engine.

    The events whose caller clears a mark (or saves a record) once chat has them (a completion, an expiry, a keep
    reminder) raise NotAnnounced when a listener failed, so the caller keeps the mark and asks again; the others
    (progress, lifecycle lines) are told once, on a best-effort basis."""

    def __init__(self, *listeners: Notifier) -> None:
        self.listeners: list[Notifier] = list(listeners)
        # (event, job id) -> the listeners (by position) that took it, while another has not yet.
        self._taken_by: dict[tuple[str, str], set[int]] = {}

    def add(self, listener: Notifier) -> None:
        self.listeners.append(listener)

    def stage_changed(self, job: Job, stage: Stage) -> None:
        for listener in self.listeners:
            self._safely(lambda n=listener: n.stage_changed(job, stage))  # type: ignore[misc]

    def progress(self, job: Job, percent: int) -> None:
        for listener in self.listeners:
            self._safely(lambda n=listener: n.progress(job, percent))  # type: ignore[misc]

    def job_finished(self, job: Job) -> None:
        self._each_once("finish", job.id, lambda n: n.job_finished(job))

    def request_expired(self, job: Job, deadline: datetime) -> None:
        self._each_once("expiry", job.id, lambda n: n.request_expired(job, deadline))

    def keep_reminder(self, job: Job, lifecycle: InstanceLifecycle) -> None:
        when = lifecycle.delete_at.isoformat() if lifecycle.delete_at else "-"
        self._each_once(f"keep reminder before {when}", job.id, lambda n: n.keep_reminder(job, lifecycle))

    def lifecycle_changed(self, job: Job, lifecycle: InstanceLifecycle, text: str) -> None:
        # Best effort: each line follows a compare-and-set that already decided what happens (deleting, deleted,
        # left alone), which must not wait for chat; /rds-status shows the same state if a line is lost.
        for listener in self.listeners:
            self._safely(lambda n=listener: n.lifecycle_changed(job, lifecycle, text))  # type: ignore[misc]

    def _each_once(self, event: str, job_id: str, tell: Callable[[Notifier], None]) -> None:
        """Every listener has its turn; if one failed, NotAnnounced once all have, and the next ask goes only to
        those that have not taken it (a metric counted once, not once per ask)."""
        took = self._taken_by.setdefault((event, job_id), set())
        failed = []
        for position, listener in enumerate(self.listeners):
            if position not in took:
                if self._safely(lambda n=listener: tell(n)):  # type: ignore[misc]
                    took.add(position)
                else:
                    failed.append(type(listener).__name__)
        if failed:
            raise NotAnnounced(f"{event} of {job_id}: {', '.join(failed)} failed")
        del self._taken_by[(event, job_id)]

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
