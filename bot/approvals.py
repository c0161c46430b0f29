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
from bot.domain import ApprovalDecision, AuditAction, AuditEvent, Job, JobKind, JobStatus
from bot.ports import ApprovalRepository, AuditLog, Identity, JobRepository
from bot.slack_text import SlackText, mention, mrkdwn
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
    FIRST_OF_TWO = "first_of_two"  # an --into --replace needs one more admin (approvals.replace_approvers)


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    message: SlackText  # for the actor, in chat: job ids and reasons escaped once
    job: Job | None = None

    @property
    def changed_job(self) -> bool:
        return self.outcome in (Outcome.APPROVED, Outcome.DENIED, Outcome.EXPIRED)

    @property
    def ok(self) -> bool:
        """The actor's wish was carried out (or is being)."""
        return self.outcome in (
            Outcome.APPROVED,
            Outcome.DENIED,
            Outcome.WITHDRAWN,
            Outcome.CANCELLING,
            Outcome.FIRST_OF_TWO,
        )


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

    def _already_expired(self, job: Job) -> SlackText:
        return mrkdwn(
            "this request ({}) already expired at {} with no decision; nothing was created. "
            "Ask again with /rds-restore",
            job.id,
            self.expires_at(job),
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
            return Decision(Outcome.UNKNOWN_JOB, mrkdwn("no restore job {}", job_id))
        if job.status != JobStatus.AWAITING_APPROVAL:
            self._audit(
                self._event(actor, job.id, AuditAction.APPROVAL_IGNORED, {"action": action, "status": job.status})
            )
            if job.status == JobStatus.EXPIRED:
                return Decision(Outcome.ALREADY_DECIDED, self._already_expired(job), job)
            return Decision(
                Outcome.ALREADY_DECIDED, mrkdwn("job {} is already {}; nothing changed", job.id, job.status), job
            )
        now = self.clock.now()
        if now > self.expires(job):
            expired = self._event(actor, job.id, AuditAction.APPROVAL_EXPIRED, {"action": action})
            # Marked in the same write: the clicking process tells chat; if it dies first, the sweeper does.
            lapsing = (job.id, JobStatus.AWAITING_APPROVAL, JobStatus.EXPIRED, [expired])
            if not self.jobs.transition(*lapsing, unannounced=True):
                return self._lost_race(job, actor, action)
            lapsed = self.jobs.get_job(job.id) or job
            return Decision(
                Outcome.EXPIRED, mrkdwn("the request {} expired at {}", job.id, self.expires_at(job)), lapsed
            )
        try:
            identity = self.authorizer.check(action, actor, email_lookup, job)
        except Forbidden as refused:
            detail = {"action": action, "reason": refused.reason, **_who(refused.identity)}
            self._audit(self._event(actor, job.id, AuditAction.APPROVAL_REFUSED, detail, refused.identity))
            return Decision(Outcome.REFUSED, SlackText.escape(refused.reason), job)
        if approve and (first := self._first_of_two(job, actor, identity, reason)) is not None:
            return first
        new_status = JobStatus.QUEUED if approve else JobStatus.DENIED
        decided = self._event(
            actor,
            job.id,
            AuditAction.decision(approve).of_backup(job.kind == JobKind.BACKUP),
            {"reason": reason, **_who(identity)},
            identity,
        )
        # The decision, its mark and its approver's row in one write: a process killed before chat heard of it
        # leaves the mark, and the leader announces it after the restart (bot/decision_notice.py); the leader never
        # finds the mark without the row, which would show the card decided by nobody.
        verdict = ApprovalDecision.APPROVED if approve else ApprovalDecision.DENIED
        if self.approvals.decide(job.id, new_status, actor, verdict, reason, now, [decided]) is None:
            return self._lost_race(job, actor, action)
        if approve:
            self.wake_engine()
        updated = self.jobs.get_job(job.id)
        verb = "approved" if approve else "denied"
        return Decision(
            Outcome.APPROVED if approve else Outcome.DENIED, mrkdwn("{} by {}", verb, mention(actor)), updated
        )

    def _first_of_two(self, job: Job, actor: str, identity: Identity, reason: str | None) -> Decision | None:
        """An --into --replace drops a database: with approvals.replace_approvers 2 the first admin's approval is
        recorded and the card waits for a second, different admin (the requester never counts). None: go ahead."""
        into = job.plan.into
        if into is None or not into.replace or self.policy.approvals.replace_approvers < 2:
            return None
        earlier = {a.actor for a in self.approvals.approvals(job.id) if a.decision == ApprovalDecision.APPROVED}
        if earlier - {actor}:
            return None  # the second admin: the job goes ahead
        if actor in earlier:
            detail: dict[str, object] = {"action": Action.APPROVE, "status": "approved by this admin already"}
            self._audit(self._event(actor, job.id, AuditAction.APPROVAL_IGNORED, detail, identity))
            return Decision(
                Outcome.ALREADY_DECIDED,
                mrkdwn("you approved {} already; replacing a database needs a second admin", job.id),
                job,
            )
        self.approvals.add_approval(job.id, actor, ApprovalDecision.APPROVED, reason, self.clock.now())
        first = {"reason": reason, "approvals": 1, "needed": 2, **_who(identity)}
        self._audit(self._event(actor, job.id, AuditAction.APPROVAL_FIRST_OF_TWO, first, identity))
        return Decision(
            Outcome.FIRST_OF_TWO,
            mrkdwn(
                "approved by {} (1 of 2): --replace drops {} on {}, so another admin must approve too "
                "(approvals.replace_approvers)",
                mention(actor),
                job.plan.database_name,
                job.plan.target_instance_id,
            ),
            job,
        )

    def _lost_race(self, job: Job, actor: str, action: Action) -> Decision:
        """Another decision, or the expiry sweeper, changed the job between our read and our compare-and-set."""
        ignored: dict[str, object] = {"action": action, "status": "decided concurrently"}
        self._audit(self._event(actor, job.id, AuditAction.APPROVAL_IGNORED, ignored))
        current = self.jobs.get_job(job.id) or job
        if current.status == JobStatus.EXPIRED:
            return Decision(Outcome.ALREADY_DECIDED, self._already_expired(current), current)
        return Decision(
            Outcome.ALREADY_DECIDED, mrkdwn("job {} was decided a moment ago; nothing changed", job.id), job
        )

    def cancel(self, job_id: str, actor: str, email_lookup: Callable[[], str | None]) -> Decision:
        """Call off a restore: withdrawn before approval, or cancelled by the engine (rds_cancel_task if running)."""
        job = self.jobs.get_job(job_id)
        if job is None:
            return Decision(
                Outcome.UNKNOWN_JOB, mrkdwn("No restore job {!r}; /rds-status lists the recent ones", job_id)
            )
        try:
            identity = self.authorizer.check(Action.CANCEL, actor, email_lookup, job)
        except Forbidden as refused:
            detail: dict[str, object] = {"reason": refused.reason, "iam_user": refused.identity.iam_user}
            self._audit(self._event(actor, job.id, AuditAction.CANCEL_REFUSED, detail))
            return Decision(Outcome.REFUSED, SlackText.escape(refused.reason), job)
        who: dict[str, object] = {"iam_user": identity.iam_user, "status": job.status}
        if job.status == JobStatus.AWAITING_APPROVAL:
            withdrawn = self._event(actor, job.id, AuditAction.JOB_CANCELLED, who)
            # Marked in the same write as the row naming who withdrew it, like a decision: the card loses its
            # buttons even if the process dies before it is told, and the leader's sweep never finds the mark
            # without the name (bot/decision_notice.py).
            row = self.approvals.decide(
                job.id, JobStatus.CANCELLED, actor, ApprovalDecision.WITHDRAWN, None, self.clock.now(), [withdrawn]
            )
            if row is not None:
                withdrawn_text = mrkdwn("{} withdrawn before approval; nothing was created", job.id)
                return Decision(Outcome.WITHDRAWN, withdrawn_text, self.jobs.get_job(job.id) or job)
        else:
            asked = self._event(actor, job.id, AuditAction.JOB_CANCEL_REQUESTED, who)
            if self.jobs.request_cancel(job.id, actor, [asked]):
                self.wake_engine()
                cancelling = mrkdwn("cancelling {}; anything already created is listed when it stops", job.id)
                return Decision(Outcome.CANCELLING, cancelling, job)
        current = self.jobs.get_job(job.id) or job
        if current.cancel_requested_by and not current.status.finished:
            message = mrkdwn("{} is already being cancelled (asked by {})", job.id, current.cancel_requested_by)
        else:
            message = mrkdwn("{} is {}; nothing to cancel", job.id, current.status)
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
