"""An approver's decision reaches chat even if the process dies right after it is saved.

Approve and Deny save the new status, the mark `finish_unannounced` and the approver's row in one compare-and-set
(ApprovalRepository.decide), the same mark a finished job carries (bot/workflow.py `_announce`). The clicking
process then announces the decision (the card loses its buttons) and clears the mark; a process killed in between
leaves the mark, and the leader's engine loop announces it again after the restart (DecisionAnnouncer, one of
Engine.announcers). The Slack write has a deterministic outbox ref, so an announcement repeated after a crash that
came after the queueing queues nothing twice.

A withdrawal before approval (`/rds-restore cancel`, Decisions.cancel) is kept the same way: its compare-and-set
to cancelled carries the mark, and the card says who withdrew it (an approval row of its own).

The mark means "decision unannounced" on a job that is queued, running, denied or withdrawn (Job.withdrawn): the
engine sets it only with a finished status of its own (succeeded, failed, cancelled by request_cancel; its query
leaves withdrawals out) and the sweeper only with expired. An approved job whose approval was never announced and
that finished meanwhile is announced by its finish, whose card update carries the decision line; its approval is
not announced as well.
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
# The statuses a decision leaves a marked job in: approved (queued; running if the engine started it since) or denied
# (a withdrawal, cancelled, is asked for apart: the engine's own cancels share its status).
DECIDED = frozenset({JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.DENIED})


class DecisionNotifier(Protocol):
    """The chat surface that shows a decision (Slack's approval card)."""

    def request_decided(self, job: Job) -> None:
        """Show the job's decision (read from the approvals saved for it); queue each write once, by its ref."""
        ...


_VERBS = {
    ApprovalDecision.APPROVED: "✅ Approved",
    ApprovalDecision.DENIED: "⛔ Denied",
    ApprovalDecision.WITHDRAWN: "🛑 Withdrawn",
}


def decided_text(job: Job, approvals: Sequence[Approval]) -> SlackText:
    """The card's decision line: who approved (both, under the two-person rule), who denied and why, or who
    withdrew the request, when. The decided card shows it alone, the finished card before its outcome
    (handlers/slack_notifier.py), so both say it in the same words.

    Built from the saved approvals, so the clicking process and a restarted one write the same line. A job whose
    approval row is missing (killed between the compare-and-set and the row) says only what its status says."""
    wanted = _decision_of(job)
    mine = [a for a in approvals if a.decision == wanted]
    text = mrkdwn("{}", _VERBS[wanted])
    if mine:
        last = mine[-1]
        who = SlackText(" and ").join(
            mention(a.actor) for a in (mine if wanted == ApprovalDecision.APPROVED else [last])
        )
        text = mrkdwn("{} by {} {}", _VERBS[wanted], who, blocks.slack_date(last.at))
        if wanted == ApprovalDecision.DENIED and last.reason:
            text = text + mrkdwn(": {}", last.reason)  # typed by the approver: escaped here, once
    if wanted == ApprovalDecision.WITHDRAWN:
        text = text + SlackText("; nothing was created")
    return text


def _decision_of(job: Job) -> ApprovalDecision:
    if job.status == JobStatus.DENIED:
        return ApprovalDecision.DENIED
    return ApprovalDecision.WITHDRAWN if job.withdrawn else ApprovalDecision.APPROVED


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

    @property
    def statuses(self) -> frozenset[JobStatus]:
        return DECIDED

    @property
    def withdrawals(self) -> bool:
        return True  # a withdrawal before approval is a decision

    def sweep(self) -> int:
        """Read the marked decisions and announce them (announce_marked); on the engine loop the tick's one read of
        the mark serves instead (Engine.announcers)."""
        return self.announce_marked(self.jobs.finished_unannounced(DECIDED, withdrawals=True))

    def announce_marked(self, marked: Sequence[Job]) -> int:
        """Announce the decisions a killed process (or a failed queueing) left marked, from the second sweep that
        finds them on; return how many."""
        told = 0
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
