"""Approve / deny decisions: authorized, expiring, exactly-once, and audited whatever the outcome."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from bot.authz import Action, Authorizer, Forbidden
from bot.clock import Clock
from bot.domain import AuditEvent, Job, JobStatus
from bot.ports import Identity
from bot.store import ApprovalDecision, JobStore
from config.policy_model import Policy


class Outcome(StrEnum):
    APPROVED = "approved"
    DENIED = "denied"
    REFUSED = "refused"
    EXPIRED = "expired"
    ALREADY_DECIDED = "already_decided"
    UNKNOWN_JOB = "unknown_job"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    message: str
    job: Job | None = None

    @property
    def changed_job(self) -> bool:
        return self.outcome in (Outcome.APPROVED, Outcome.DENIED, Outcome.EXPIRED)


class Approvals:
    def __init__(
        self, store: JobStore, authorizer: Authorizer, policy: Policy, clock: Clock, on_approved: Callable[[], None]
    ) -> None:
        self.store = store
        self.authorizer = authorizer
        self.policy = policy
        self.clock = clock
        self.on_approved = on_approved

    def expires_at(self, job: Job) -> str:
        return (job.created_at + timedelta(minutes=self.policy.approvals.expiry_minutes)).strftime("%H:%M UTC")

    def decide(
        self,
        job_id: str,
        actor: str,
        approve: bool,
        email_lookup: Callable[[], str | None],
        reason: str | None = None,
    ) -> Decision:
        """Apply one click; every outcome, refusals included, leaves an audit event."""
        action = Action.APPROVE if approve else Action.DENY
        job = self.store.get_job(job_id)
        if job is None:
            self._audit(actor, None, "approval.unknown_job", {"job_id": job_id})
            return Decision(Outcome.UNKNOWN_JOB, f"no restore job {job_id}")
        if job.status != JobStatus.AWAITING_APPROVAL:
            self._audit(actor, job.id, "approval.ignored", {"action": action, "status": job.status})
            return Decision(Outcome.ALREADY_DECIDED, f"job {job.id} is already {job.status}; nothing changed", job)
        now = self.clock.now()
        if now > job.created_at + timedelta(minutes=self.policy.approvals.expiry_minutes):
            expired = self._event(actor, job.id, "approval.expired", {"action": action})
            self.store.transition(job.id, JobStatus.AWAITING_APPROVAL, JobStatus.EXPIRED, [expired])
            return Decision(Outcome.EXPIRED, f"the request {job.id} expired at {self.expires_at(job)}", job)
        try:
            identity = self.authorizer.check(action, actor, email_lookup, job)
        except Forbidden as refused:
            detail = {"action": action, "reason": refused.reason, **_who(refused.identity)}
            refusal = self._event(actor, job.id, "approval.refused", detail)
            self.store.record_audit([refusal.model_copy(update={"iam_user": refused.identity.iam_user})])
            return Decision(Outcome.REFUSED, refused.reason, job)
        new_status = JobStatus.QUEUED if approve else JobStatus.DENIED
        decided = self._event(
            actor, job.id, f"job.{'approved' if approve else 'denied'}", {"reason": reason, **_who(identity)}
        ).model_copy(update={"iam_user": identity.iam_user})
        if not self.store.transition(job.id, JobStatus.AWAITING_APPROVAL, new_status, [decided]):
            self._audit(actor, job.id, "approval.ignored", {"action": action, "status": "decided concurrently"})
            return Decision(Outcome.ALREADY_DECIDED, f"job {job.id} was decided a moment ago; nothing changed", job)
        self.store.add_approval(
            job.id, actor, ApprovalDecision.APPROVED if approve else ApprovalDecision.DENIED, reason, now
        )
        if approve:
            self.on_approved()
        updated = self.store.get_job(job.id)
        verb = "approved" if approve else "denied"
        return Decision(Outcome.APPROVED if approve else Outcome.DENIED, f"{verb} by <@{actor}>", updated)

    def _event(self, actor: str, job_id: str | None, action: str, detail: dict[str, object]) -> AuditEvent:
        return AuditEvent(at=self.clock.now(), actor=actor, action=action, job_id=job_id, detail=detail)

    def _audit(self, actor: str, job_id: str | None, action: str, detail: dict[str, object]) -> None:
        self.store.record_audit([self._event(actor, job_id, action, detail)])


def _who(identity: Identity) -> dict[str, object]:
    return {"iam_user": identity.iam_user, "identity_source": identity.source}
