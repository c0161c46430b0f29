"""A test hook for the sandbox (RDSBOT_SANDBOX_HOLD_FINISH): the engine thread stops for good as a job's completion
reaches the notifiers. The engine has saved the job as finished (and `finish_unannounced`) and nothing has been
queued for chat: the window a SIGKILL test kills the process in, reached without timing (tests/scenario/
test_outbox_sigkill.py). Wired first among the notifier's listeners, only with the sandbox SQL Server driver."""

from __future__ import annotations

import threading
from datetime import datetime

from bot.domain import Job, Stage
from bot.lifecycle.model import InstanceLifecycle


class HoldFinish:
    """A Notifier that passes every event but a completion, where it blocks forever."""

    def __init__(self) -> None:
        self.never = threading.Event()

    def job_finished(self, job: Job) -> None:
        self.never.wait()

    def stage_changed(self, job: Job, stage: Stage) -> None:
        pass

    def progress(self, job: Job, percent: int) -> None:
        pass

    def request_expired(self, job: Job, deadline: datetime) -> None:
        pass

    def keep_reminder(self, job: Job, lifecycle: InstanceLifecycle) -> None:
        pass

    def lifecycle_changed(self, job: Job, lifecycle: InstanceLifecycle, text: str) -> None:
        pass
