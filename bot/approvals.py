"""Decisions on a restore request: approve, deny and cancel. Authorized through the one Authorizer, expiring,
exactly-once (the store's compare-and-set decides races), and audited whatever the outcome, refusals included."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot import expiry, render
from bot.authz import Action, Authorizer, Forbidden
from bot.clock import Clock
from bot.domain import ApprovalDecision, AuditAction, AuditEvent, Job, JobStatus
from bot.ports import ApprovalRepository, AuditLog, Identity, JobRepository
from config.policy_model import Policy


class Outcome(StrEnum):
    APPROVED = "approved"
    DENIED = "denied"
    REFUSED = "refused"
    EXPIRED = "expired"
    ALREADY_DECIDED = "already_decided"
    UNKNOWN_JOB = "unknown_job"
    WITHDRAWN = "withdrawn"  # cancelled before approval: nothing was created
    CANCELLING = "cancelling"  # the engine will stop the job at its next step
    NOT_CANCELLABLE = "not_cancellable"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    message: str
    job: Job | None = None

    @property
    def changed_job(self) -> bool:
        return self.outcome in (Outcome.APPROVED, Outcome.DENIED, Outcome.EXPIRED)

    @property
    def ok(self) -> bool:
        """The actor's wish was carried out (or is being)."""
        return self.outcome in (Outcome.APPROVED, Outcome.DENIED, Outcome.WITHDRAWN, Outcome.CANCELLING)


class Decisions:
    def __init__(
        self,
        jobs: JobRepository,
        approvals: ApprovalRepository,
        audit: AuditLog,
        authorizer: Authorizer,
        policy: Policy,
        clock: Clock,
        wake_engine: Callable[[], None],
    ) -> None:
        self.jobs = jobs
        self.approvals = approvals
        self.audit = audit
        self.authorizer = authorizer
        self.policy = policy
        self.clock = clock
        self.wake_engine = wake_engine

    def expires(self, job: Job) -> datetime:
        return expiry.deadline(job, self.policy)

    def expires_at(self, job: Job) -> str:
        return render.utc_time(self.expires(job))

    def _already_expired(self, job: Job) -> str:
        return (
            f"this request ({job.id}) already expired at {self.expires_at(job)} with no decision; nothing was "
            "created. Ask again with /rds-restore"
        )

    def decide(
        self,
        job_id: str,
        actor: str,
        approve: bool,
        email_lookup: Callable[[], str | None],
        reason: str | None = None,
    ) -> Decision:
        """Apply one Approve or Deny click."""
        action = Action.APPROVE if approve else Action.DENY
        job = self.jobs.get_job(job_id)
        if job is None:
            self._audit(self._event(actor, None, AuditAction.APPROVAL_UNKNOWN_JOB, {"job_id": job_id}))
            return Decision(Outcome.UNKNOWN_JOB, f"no restore job {job_id}")
        if job.status != JobStatus.AWAITING_APPROVAL:
            self._audit(
                self._event(actor, job.id, AuditAction.APPROVAL_IGNORED, {"action": action, "status": job.status})
            )
            if job.status == JobStatus.EXPIRED:
                return Decision(Outcome.ALREADY_DECIDED, self._already_expired(job), job)
            return Decision(Outcome.ALREADY_DECIDED, f"job {job.id} is already {job.status}; nothing changed", job)
        now = self.clock.now()
        if now > self.expires(job):
            expired = self._event(actor, job.id, AuditAction.APPROVAL_EXPIRED, {"action": action})
            if not self.jobs.transition(job.id, JobStatus.AWAITING_APPROVAL, JobStatus.EXPIRED, [expired]):
                return self._lost_race(job, actor, action)
            lapsed = self.jobs.get_job(job.id) or job
            return Decision(Outcome.EXPIRED, f"the request {job.id} expired at {self.expires_at(job)}", lapsed)
        try:
            identity = self.authorizer.check(action, actor, email_lookup, job)
        except Forbidden as refused:
            detail = {"action": action, "reason": refused.reason, **_who(refused.identity)}
            self._audit(self._event(actor, job.id, AuditAction.APPROVAL_REFUSED, detail, refused.identity))
            return Decision(Outcome.REFUSED, refused.reason, job)
        new_status = JobStatus.QUEUED if approve else JobStatus.DENIED
        decided = self._event(
            actor, job.id, AuditAction.decision(approve), {"reason": reason, **_who(identity)}, identity
        )
        if not self.jobs.transition(job.id, JobStatus.AWAITING_APPROVAL, new_status, [decided]):
            return self._lost_race(job, actor, action)
        self.approvals.add_approval(
            job.id, actor, ApprovalDecision.APPROVED if approve else ApprovalDecision.DENIED, reason, now
        )
        if approve:
            self.wake_engine()
        updated = self.jobs.get_job(job.id)
        verb = "approved" if approve else "denied"
        return Decision(Outcome.APPROVED if approve else Outcome.DENIED, f"{verb} by <@{actor}>", updated)

    def _lost_race(self, job: Job, actor: str, action: Action) -> Decision:
        """Another decision, or the expiry sweeper, changed the job between our read and our compare-and-set."""
        ignored: dict[str, object] = {"action": action, "status": "decided concurrently"}
        self._audit(self._event(actor, job.id, AuditAction.APPROVAL_IGNORED, ignored))
        current = self.jobs.get_job(job.id) or job
        if current.status == JobStatus.EXPIRED:
            return Decision(Outcome.ALREADY_DECIDED, self._already_expired(current), current)
        return Decision(Outcome.ALREADY_DECIDED, f"job {job.id} was decided a moment ago; nothing changed", job)

    def cancel(self, job_id: str, actor: str, email_lookup: Callable[[], str | None]) -> Decision:
        """Call off a restore: withdrawn before approval, or cancelled by the engine (rds_cancel_task if running)."""
        job = self.jobs.get_job(job_id)
        if job is None:
            return Decision(Outcome.UNKNOWN_JOB, f"No restore job {job_id!r}; /rds-status lists the recent ones")
        try:
            identity = self.authorizer.check(Action.CANCEL, actor, email_lookup, job)
        except Forbidden as refused:
            detail: dict[str, object] = {"reason": refused.reason, "iam_user": refused.identity.iam_user}
            self._audit(self._event(actor, job.id, AuditAction.CANCEL_REFUSED, detail))
            return Decision(Outcome.REFUSED, refused.reason, job)
        who: dict[str, object] = {"iam_user": identity.iam_user, "status": job.status}
        if job.status == JobStatus.AWAITING_APPROVAL:
            withdrawn = self._event(actor, job.id, AuditAction.JOB_CANCELLED, who)
            if self.jobs.transition(job.id, JobStatus.AWAITING_APPROVAL, JobStatus.CANCELLED, [withdrawn]):
                return Decision(Outcome.WITHDRAWN, f"{job.id} withdrawn before approval; nothing was created", job)
        else:
            asked = self._event(actor, job.id, AuditAction.JOB_CANCEL_REQUESTED, who)
            if self.jobs.request_cancel(job.id, actor, [asked]):
                self.wake_engine()
                return Decision(
                    Outcome.CANCELLING, f"cancelling {job.id}; anything already created is listed when it stops", job
                )
        current = self.jobs.get_job(job.id) or job
        if current.cancel_requested_by and not current.status.finished:
            message = f"{job.id} is already being cancelled (asked by {current.cancel_requested_by})"
        else:
            message = f"{job.id} is {current.status}; nothing to cancel"
        return Decision(Outcome.NOT_CANCELLABLE, message, current)

    def _event(
        self,
        actor: str,
        job_id: str | None,
        action: AuditAction,
        detail: dict[str, object],
        identity: Identity | None = None,
    ) -> AuditEvent:
        iam_user = identity.iam_user if identity else None
        return AuditEvent(
            at=self.clock.now(), actor=actor, action=action, job_id=job_id, detail=detail, iam_user=iam_user
        )

    def _audit(self, event: AuditEvent) -> None:
        """Record an outcome that changes no job (refusals, ignored clicks)."""
        self.audit.record_audit([event])


def _who(identity: Identity) -> dict[str, object]:
    return {"iam_user": identity.iam_user, "identity_source": identity.source}
