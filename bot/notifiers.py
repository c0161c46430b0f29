"""Notifiers that are not Slack: fan-out to several listeners, and a printer for the demo and the console."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot import render
from bot.domain import Job, Stage
from bot.ports import Notifier

log = logging.getLogger(__name__)


class FanoutNotifier:
    """Sends each event to every listener; a listener that fails is logged, never allowed to stop the engine."""

    def __init__(self, *listeners: Notifier) -> None:
        self.listeners: list[Notifier] = list(listeners)

    def add(self, listener: Notifier) -> None:
        self.listeners.append(listener)

    def stage_changed(self, job: Job, stage: Stage) -> None:
        for listener in self.listeners:
            self._safely(lambda n=listener: n.stage_changed(job, stage))  # type: ignore[misc]

    def progress(self, job: Job, percent: int) -> None:
        for listener in self.listeners:
            self._safely(lambda n=listener: n.progress(job, percent))  # type: ignore[misc]

    def job_finished(self, job: Job) -> None:
        for listener in self.listeners:
            self._safely(lambda n=listener: n.job_finished(job))  # type: ignore[misc]

    def request_expired(self, job: Job, deadline: datetime) -> None:
        for listener in self.listeners:
            self._safely(lambda n=listener: n.request_expired(job, deadline))  # type: ignore[misc]

    @staticmethod
    def _safely(call: Callable[[], None]) -> None:
        try:
            call()
        except Exception:
            log.exception("notifier failed")


class PrintNotifier:
    """Writes stage transitions, progress (only when it moves) and the completion through `write`."""

    def __init__(self, write: Callable[[str], None] = print) -> None:
        self.write = write
        self._last_percent: dict[str, int] = {}

    def stage_changed(self, job: Job, stage: Stage) -> None:
        self.write(render.stage_line(job, stage))

    def progress(self, job: Job, percent: int) -> None:
        if self._last_percent.get(job.id) != percent:
            self._last_percent[job.id] = percent
            self.write(render.progress_line(job, percent))

    def job_finished(self, job: Job) -> None:
        self.write(render.completion(job))

    def request_expired(self, job: Job, deadline: datetime) -> None:
        self.write(render.expired(job, deadline))
