"""An approver's decision reaches chat even if the process dies right after it is saved.

Approve and Deny save the new status, the mark `finish_unannounced` and the approver's row in one compare-and-set
(ApprovalRepository.decide), the same mark a finished job carries (bot/workflow.py `_announce`). The clicking
process then announces the decision (the card loses its buttons) and clears the mark; a process killed in between
leaves the mark, and the leader's engine loop announces it again after the restart (DecisionAnnouncer.sweep, one of
Engine.chores). The Slack write has a deterministic outbox ref, so an announcement repeated after a crash that
came after the queueing queues nothing twice.

The mark means "decision unannounced" on a job that is queued, running or denied: the engine sets it only with a
finished status (succeeded, failed, cancelled: its own to announce) and the sweeper only with expired. An approved
job whose approval was never announced and that finished meanwhile is announced by its finish, whose card update
carries the decision line; its approval is not announced as well.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from bot import blocks
from bot.domain import Approval, ApprovalDecision, Job, JobStatus
from bot.ports import JobRepository, clear_unannounced
from bot.slack_text import SlackText, mention, mrkdwn

log = logging.getLogger(__name__)
# The statuses a decision leaves a marked job in: approved (queued; running if the engine started it since) or denied.
DECIDED = frozenset({JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.DENIED})


class DecisionNotifier(Protocol):
    """The chat surface that shows a decision (Slack's approval card)."""

    def request_decided(self, job: Job) -> None:
        """Show the job's decision (read from the approvals saved for it); queue each write once, by its ref."""
        ...


def decided_text(job: Job, approvals: Sequence[Approval]) -> SlackText:
    """The card's decision line: who approved (both, under the two-person rule) or who denied and why, when.

    Built from the saved approvals, so the clicking process and a restarted one write the same line. A job whose
    approval row is missing (killed between the compare-and-set and the row) says only what its status says."""
    denied = job.status == JobStatus.DENIED
    wanted = ApprovalDecision.DENIED if denied else ApprovalDecision.APPROVED
    mine = [a for a in approvals if a.decision == wanted]
    verb = "⛔ Denied" if denied else "✅ Approved"
    if not mine:
        return mrkdwn("{}", verb)
    last = mine[-1]
    who = SlackText(" and ").join(mention(a.actor) for a in (mine if not denied else [last]))
    text = mrkdwn("{} by {} {}", verb, who, blocks.slack_date(last.at))
    if denied and last.reason:
        text = text + mrkdwn(": {}", last.reason)  # typed by the approver: escaped here, once
    return text


class DecisionAnnouncer:
    """Announce a decision and clear its mark; re-announce the marked ones (leader only, on the engine loop)."""

    def __init__(self, jobs: JobRepository, notifier: DecisionNotifier) -> None:
        self.jobs = jobs
        self.notifier = notifier
        # The marked jobs the last sweep found. A sweep announces only a job the one before found marked too, so it
        # seldom repeats a live click's own announcement (harmless when it does: the write is queued once by its
        # ref, and the approver's row is saved with the mark, so both render the same card).
        self._marked_before: set[str] = set()

    def announce(self, job: Job) -> None:
        """Tell chat, then clear the mark saved with the decision; if chat cannot be told, the mark stays."""
        self.notifier.request_decided(job)
        clear_unannounced(self.jobs, job.id)

    def sweep(self) -> int:
        """Announce the decisions a killed process (or a failed queueing) left marked, from the second sweep that
        finds them on; return how many."""
        told = 0
        marked = self.jobs.finished_unannounced(DECIDED)
        seen, self._marked_before = self._marked_before, {job.id for job in marked}
        for job in marked:
            if job.id not in seen:
                continue
            try:
                self.announce(job)
            except Exception:  # one bad write must not hold back the others; the mark stays for the next sweep
                log.exception("decision not announced; asked again next sweep", extra={"job_id": job.id})
                continue
            told += 1
        return told
