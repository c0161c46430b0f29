"""A request nobody decides lapses on time, not at the next click: the sweeper expires it, its card loses its
buttons, the requester hears of it, and the trail records it.

Exactly once against a racing Approve: both are the same compare-and-set from awaiting approval in the store
(JobRepository.transition), so whichever commits first wins and the other changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.domain import AuditAction, AuditEvent, Job, JobStatus
from bot.ports import JobRepository, Notifier, clear_unannounced
from config.policy_model import Policy

log = logging.getLogger(__name__)
EXPIRY_ACTOR = "rdsbot:expiry"
_EXPIRED = frozenset({JobStatus.EXPIRED})


def deadline(job: Job, policy: Policy) -> datetime:
    """When a request lapses if nobody decides; a decision after this moment is refused."""
    return job.created_at + timedelta(minutes=policy.approvals.expiry_minutes)


class ExpirySweeper:
    """Run on the engine loop (leader only): each call expires every request past its deadline."""

    def __init__(self, jobs: JobRepository, notifier: Notifier, policy: Policy, clock: Clock) -> None:
        self.jobs = jobs
        self.notifier = notifier
        self.policy = policy
        self.clock = clock

    @property
    def statuses(self) -> frozenset[JobStatus]:
        return _EXPIRED

    @property
    def withdrawals(self) -> bool:
        return False

    def sweep(self) -> list[Job]:
        """Tell the expiries left untold, then expire what is due; return the jobs this call expired. On the engine
        loop the two halves run apart: announce_marked from the tick's one read of the mark, expire_due a chore."""
        self.announce_marked(self.jobs.finished_unannounced(_EXPIRED))
        return self.expire_due()

    def announce_marked(self, marked: Sequence[Job]) -> int:
        """Tell the expiries a process was killed (or a chat write failed) before chat had; how many."""
        for unannounced in marked:
            self._tell(unannounced)
        return len(marked)

    def expire_due(self) -> list[Job]:
        """Expire what is due; return the jobs this call expired (not those a decision took first)."""
        now = self.clock.now()
        due = self.jobs.awaiting_approval(created_before=now - timedelta(minutes=self.policy.approvals.expiry_minutes))
        expired: list[Job] = []
        for job in due:
            lapsed_at = deadline(job, self.policy)
            event = AuditEvent(
                at=now,
                actor=EXPIRY_ACTOR,
                action=AuditAction.APPROVAL_EXPIRED,
                job_id=job.id,
                detail={"deadline": lapsed_at.isoformat(), "by": "sweeper"},
            )
            expiring = (job.id, JobStatus.AWAITING_APPROVAL, JobStatus.EXPIRED, [event])
            if not self.jobs.transition(*expiring, unannounced=True):
                continue  # approved, denied or withdrawn a moment ago: that decision stands
            job = self.jobs.get_job(job.id) or job
            log.info("request expired unanswered", extra={"job_id": job.id, "deadline": lapsed_at.isoformat()})
            self._tell(job)
            expired.append(job)
        return expired

    def _tell(self, job: Job) -> None:
        try:
            tell_expired(self.jobs, self.notifier, job, self.policy)
        except Exception:  # one job's failed write must not hold back the others; its mark stays for the next sweep
            log.exception("expiry not announced; told again next sweep", extra={"job_id": job.id})


def tell_expired(jobs: JobRepository, notifier: Notifier, job: Job, policy: Policy) -> None:
    """Tell chat, then clear the mark saved with the expiry (by the sweeper or a click that found it lapsed): a
    process killed in between, or a notifier that raised (FanoutNotifier: a listener failed), leaves the mark, and
    the next sweep tells it again (the Slack writes go once, by ref)."""
    notifier.request_expired(job, deadline(job, policy))
    clear_unannounced(jobs, job.id)
