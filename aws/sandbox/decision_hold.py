"""A test hook for the sandbox (RDSBOT_SANDBOX_HOLD_DECISION): the thread announcing a decision stops for good as
the decision reaches Slack's card. Approve or Deny is saved with its mark and nothing of it is queued for chat: the
window a SIGKILL test kills the process in, reached without timing (tests/scenario/test_decision_sigkill.py).
Wired only with the sandbox SQL Server driver (bot/bootstrap/slack.py)."""

from __future__ import annotations

import threading

from bot.domain import Job


class HoldDecision:
    """Called before a decision's card update is queued; blocks forever."""

    def __init__(self) -> None:
        self.never = threading.Event()

    def __call__(self, job: Job) -> None:
        self.never.wait()
