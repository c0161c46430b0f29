"""Engine progress into the request's Slack thread: one message per stage transition, the percentage updated in
place at most once per second per channel, and the completion with its links."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot import blocks, render
from bot.domain import Job, JobStatus, Stage
from bot.lifecycle.model import InstanceLifecycle
from bot.ports import ChatThreads
from handlers.outbox import SlackOutbox

# This surface's key in ChatThreads.
SURFACE = "slack"


class SlackNotifier:
    def __init__(
        self,
        client: Any,
        outbox: SlackOutbox,
        threads: ChatThreads,
        min_update_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        extend_by: str = "24h",
    ) -> None:
        self.client = client
        self.extend_by = extend_by  # the reminder button's label: how much longer one click keeps the instance
        self.outbox = outbox
        self.threads = threads
        self.min_update_seconds = min_update_seconds
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._last_update: dict[str, float] = {}  # channel -> when we last called chat.update there
        self._progress_ts: dict[str, str] = {}  # job id -> ts of its progress message
        self._progress_posted: dict[str, threading.Event] = {}

    def remember_thread(self, job_id: str, channel: str, thread_ts: str) -> None:
        """The job's approval card is its thread: progress and the completion are posted under it."""
        self.threads.save(job_id, SURFACE, channel, thread_ts)

    def thread_of(self, job: Job) -> tuple[str, str] | None:
        ref = self.threads.find(job.id, SURFACE)
        return (ref.channel, ref.thread_ts) if ref else None

    def post(self, channel: str, thread_ts: str | None, text: str, description: str) -> None:
        self.outbox.put(description, lambda: self._post(channel, thread_ts, text))

    def stage_changed(self, job: Job, stage: Stage) -> None:
        where = self.thread_of(job)
        if where:
            self.post(*where, render.stage_line(job, stage), f"{job.id} {stage.name} {stage.status}")

    def progress(self, job: Job, percent: int) -> None:
        where = self.thread_of(job)
        if where is None:
            return
        channel, thread_ts = where
        text = render.progress_line(job, percent)
        with self._lock:
            first = job.id not in self._progress_posted
            if first:
                self._progress_posted[job.id] = threading.Event()
            elif self.monotonic() - self._last_update.get(channel, float("-inf")) < self.min_update_seconds:
                return  # the next poll carries a newer percentage; Slack allows ~1 update/s per channel
            self._last_update[channel] = self.monotonic()
        if first:
            self.outbox.put(f"{job.id} progress", lambda: self._post_progress(job.id, channel, thread_ts, text))
        else:
            self.outbox.put(f"{job.id} progress {percent}%", lambda: self._update_progress(job.id, channel, text))

    def job_finished(self, job: Job) -> None:
        where = self.thread_of(job)
        if where is None:
            return
        channel, thread_ts = where
        if job.id in self._progress_posted:
            final = render.progress_line(job, job.percent_complete)
            self.outbox.put(f"{job.id} progress final", lambda: self._update_progress(job.id, channel, final))
        text = blocks.completion_text(job)
        if job.status in (JobStatus.FAILED, JobStatus.CANCELLED) and job.created_resources and job.plan.into is None:
            offer = blocks.cleanup_offer(job, text)  # rdsbot made something: offer to delete it
            self.outbox.put(
                f"{job.id} finished",
                lambda: self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=offer),
            )
            return
        self.post(channel, thread_ts, text, f"{job.id} finished")

    def request_expired(self, job: Job, deadline: datetime) -> None:
        note = blocks.expired_text(deadline)
        where = self.thread_of(job)
        if where is not None:
            channel, card_ts = where
            card = blocks.decided_card(job, note)
            self.outbox.put(f"{job.id} card expired", lambda: self._update(channel, card_ts, note, card))
        # A user id as `channel` posts in the app's DM with that user (Slack doc "chat.postMessage", channel):
        # the requester learns of it even when not in the approvals channel.
        notice = (
            f"⌛ Your restore request {job.id} ({job.plan.target_instance_id}) expired {blocks.slack_date(deadline)}"
            " with nobody deciding; nothing was created. Ask again with /rds-restore."
        )
        self.post(job.requester, None, notice, f"{job.id} expiry notice")

    def _update(self, channel: str, ts: str, text: str, card: list[blocks.Block]) -> None:
        self.client.chat_update(channel=channel, ts=ts, text=text, blocks=card)

    def keep_reminder(self, job: Job, lifecycle: InstanceLifecycle) -> None:
        where = self.thread_of(job)
        if where is None or lifecycle.delete_at is None:
            return
        channel, thread_ts = where
        text = render.keep_reminder(job, lifecycle.delete_at)
        reminder = blocks.keep_reminder(job, lifecycle.delete_at, self.extend_by)
        self.outbox.put(
            f"{job.id} keep reminder",
            lambda: self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=reminder),
        )

    def lifecycle_changed(self, job: Job, lifecycle: InstanceLifecycle, text: str) -> None:
        where = self.thread_of(job)
        if where:
            self.post(*where, f"[{job.id}] {text}", f"{job.id} lifecycle {lifecycle.phase}")

    def _post(self, channel: str, thread_ts: str | None, text: str) -> None:
        self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)

    def _post_progress(self, job_id: str, channel: str, thread_ts: str, text: str) -> None:
        response = self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)
        self._progress_ts[job_id] = str(response["ts"])

    def _update_progress(self, job_id: str, channel: str, text: str) -> None:
        ts = self._progress_ts.get(job_id)
        if ts is not None:
            self.client.chat_update(channel=channel, ts=ts, text=text)
