"""What people do to a restored instance's life: keep it longer (the reminder's button), delete it now
(`/rds-restore delete <job>`) and roll back a failed or cancelled restore (`cancel <job> --rollback`, "Clean up").
The requester or an admin, through the one Authorizer; every click audited, refusals included; a change is a
compare-and-set on the lifecycle record, so it never races the runner's own claim."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot import keep_window
from bot.authz import Action, Authorizer, Forbidden
from bot.clock import Clock
from bot.domain import AuditAction, AuditEvent, Job, JobStatus
from bot.lifecycle.model import InstanceLifecycle, LifecyclePhase, new_lifecycle
from bot.lifecycle.runner import goes_text, snapshot_for
from bot.ports import AuditLog, Identity, InstanceLifecycles, JobRepository, Notifier
from bot.render import utc_time as utc
from config.policy_model import Policy

_ATTEMPTS = 3  # compare-and-set retries: a reminder written a moment before the click moves the version on


@dataclass(frozen=True)
class LifecycleReply:
    """What the person who clicked or typed reads (ephemeral in Slack)."""

    text: str
    ok: bool


class LifecycleCommands:
    def __init__(
        self,
        policy: Policy,
        lifecycles: InstanceLifecycles,
        jobs: JobRepository,
        audit: AuditLog,
        authorizer: Authorizer,
        notifier: Notifier,
        clock: Clock,
        wake_runner: Callable[[], None] = lambda: None,
    ) -> None:
        self.policy = policy
        self.lifecycles = lifecycles
        self.jobs = jobs
        self.audit = audit
        self.authorizer = authorizer
        self.notifier = notifier
        self.clock = clock
        self.wake_runner = wake_runner

    def keep_more(self, job_id: str, actor: str, email_lookup: Callable[[], str | None]) -> LifecycleReply:
        """Push the deletion back by `lifecycle.extend_by`, capped at `max_keep` after the restore completed."""
        job = self.jobs.get_job(job_id)
        if job is None:
            return LifecycleReply(f"No restore job {job_id!r}; /rds-status lists the recent ones", ok=False)
        refused = self._authorize(Action.KEEP_INSTANCE, AuditAction.INSTANCE_KEEP_REFUSED, job, actor, email_lookup)
        if isinstance(refused, LifecycleReply):
            return refused
        identity = refused
        lifecycle = self.policy.lifecycle
        for _ in range(_ATTEMPTS):
            record = self.lifecycles.get(job.id)
            if record is None or record.phase != LifecyclePhase.KEEPING or record.delete_at is None:
                why = f"{job.plan.target_instance_id} is not waiting to be deleted ({goes_text(record, job)})"
                return self._refuse_keep(job, actor, identity, why)
            until = keep_window.extended(record.delete_at, record.completed_at, lifecycle.extend_by, lifecycle.max_keep)
            if until is None:
                most = keep_window.format_duration(lifecycle.max_keep)
                why = (
                    f"{record.instance_id} is already kept to the maximum, {most} after the restore completed "
                    f"(deleted at {utc(record.delete_at)})"
                )
                return self._refuse_keep(job, actor, identity, why)
            kept = record.model_copy(
                update={"delete_at": until, "reminded_at": None, "extensions": record.extensions + 1}
            )
            detail = {"from": utc(record.delete_at), "to": utc(until), "iam_user": identity.iam_user}
            if self.lifecycles.replace(
                kept, [self._event(actor, AuditAction.INSTANCE_KEEP_EXTENDED, job.id, detail, identity)]
            ):
                text = f"⏳ <@{actor}> kept {record.instance_id} longer: deleted at {utc(until)}"
                self.notifier.lifecycle_changed(job, kept, text)
                return LifecycleReply(f"{record.instance_id} is now deleted at {utc(until)}", ok=True)
        return LifecycleReply(f"{job.id} changed while you clicked; try again", ok=False)

    def delete(self, job_id: str, actor: str, email_lookup: Callable[[], str | None]) -> LifecycleReply:
        """Delete the job's instance now (its final snapshot per policy), then the shared resources it used."""
        allowed = self._may_delete(job_id, actor, email_lookup)
        if isinstance(allowed, LifecycleReply):
            return allowed
        job, identity = allowed
        if not job.status.finished:
            return LifecycleReply(
                f"{job.id} is {job.status}; call it off first with /rds-restore cancel {job.id}", ok=False
            )
        return self._claim(job, actor, identity, snapshot_for(job, self.policy), rollback=False)

    def rollback(self, job_id: str, actor: str, email_lookup: Callable[[], str | None]) -> LifecycleReply:
        """Delete what a failed or cancelled restore created, with no final snapshot (it restored nothing worth
        keeping). A job still stopping (cancel requested) is claimed now; the runner deletes once it has stopped."""
        allowed = self._may_delete(job_id, actor, email_lookup)
        if isinstance(allowed, LifecycleReply):
            return allowed
        job, identity = allowed
        status = job.status
        if status == JobStatus.SUCCEEDED:
            why = f"{job.id} succeeded; /rds-restore delete {job.id} deletes its instance (final snapshot per policy)"
            return LifecycleReply(why, ok=False)
        if status in (JobStatus.AWAITING_APPROVAL, JobStatus.DENIED, JobStatus.EXPIRED) or (
            status == JobStatus.CANCELLED and job.started_at is None
        ):
            return LifecycleReply(f"{job.id} never started; nothing was created", ok=False)
        if not status.finished and not job.cancel_requested_by:
            return LifecycleReply(
                f"{job.id} is {status}; roll it back with /rds-restore cancel {job.id} --rollback", ok=False
            )
        return self._claim(job, actor, identity, None, rollback=True)

    def _may_delete(
        self, job_id: str, actor: str, email_lookup: Callable[[], str | None]
    ) -> tuple[Job, Identity] | LifecycleReply:
        """The job and who asks, or why nothing of it is deleted for them (refusals of the person audited)."""
        job = self._deletable(job_id)
        if isinstance(job, LifecycleReply):
            return job
        refused = self._authorize(Action.DELETE_INSTANCE, AuditAction.INSTANCE_DELETE_REFUSED, job, actor, email_lookup)
        return refused if isinstance(refused, LifecycleReply) else (job, refused)

    def _deletable(self, job_id: str) -> Job | LifecycleReply:
        """The job, or why rdsbot deletes nothing for it: unknown, a drill's, or an --into job's (not its own)."""
        job = self.jobs.get_job(job_id)
        if job is None:
            return LifecycleReply(f"No restore job {job_id!r}; /rds-status lists the recent ones", ok=False)
        if job.is_drill:
            return LifecycleReply(f"{job.id} is a drill's restore; its run deletes its instance", ok=False)
        if job.plan.backup is not None:
            return LifecycleReply(
                f"{job.id} backed up {job.plan.database_name} of the existing instance {job.plan.target_instance_id};"
                " it created only S3 objects, and rdsbot deletes only instances its jobs created",
                ok=False,
            )
        if job.plan.into is not None:
            # Nor is anything on it reverted: a new option group the job applied stays (its previous one is in
            # the job's completion message and audit trail, for an operator to put back).
            applied = job.plan.into.new_option_group
            stays = f"; the option group {applied} it applied stays" if applied else ""
            return LifecycleReply(
                f"{job.id} restored into the existing instance {job.plan.target_instance_id}; it created nothing, "
                f"and rdsbot deletes only instances its jobs created{stays}",
                ok=False,
            )
        return job

    def _claim(
        self, job: Job, actor: str, identity: Identity, snapshot: str | None, *, rollback: bool
    ) -> LifecycleReply:
        """Mark the job's record DELETING for the runner (a compare-and-set, so never twice), audited."""
        for _ in range(_ATTEMPTS):
            record = self._record(job)
            if record.phase == LifecyclePhase.DELETING:
                return LifecycleReply(f"{record.instance_id} is already being deleted", ok=True)
            # A rollback also claims a job that has not stopped yet, or whose record says it made nothing so far.
            made_nothing = record.phase.finished and not (
                record.phase == LifecyclePhase.UNMANAGED and job.created_resources
            )
            if not rollback and made_nothing:
                return LifecycleReply(f"nothing to delete for {job.id}: {goes_text(record, job)}", ok=False)
            if rollback and record.phase in (LifecyclePhase.DELETED, LifecyclePhase.LEFT_ALONE):
                return LifecycleReply(f"nothing to roll back for {job.id}: {goes_text(record, job)}", ok=False)
            claimed = record.claimed_by(actor, snapshot, at=self.clock.now())
            detail = {
                "instance": record.instance_id,
                "final_snapshot": snapshot,
                "iam_user": identity.iam_user,
                "rollback": rollback,
            }
            event = self._event(actor, AuditAction.INSTANCE_DELETE_REQUESTED, job.id, detail, identity)
            if self.lifecycles.replace(claimed, [event]):
                what = "roll back what it created" if rollback else f"delete {record.instance_id} now"
                self.notifier.lifecycle_changed(job, claimed, f"🗑 <@{actor}> asked to {what}")
                self.wake_runner()
                if rollback:
                    return LifecycleReply(
                        f"rolling back {job.id}: deleting what it created (no final snapshot) once it has stopped; "
                        "the job's thread lists each deletion",
                        ok=True,
                    )
                snap = f", after a final snapshot {snapshot}" if snapshot else ", with no final snapshot (policy)"
                return LifecycleReply(
                    f"deleting {record.instance_id}{snap}; the job's thread says when it is gone", ok=True
                )
        return LifecycleReply(f"{job.id} changed while you asked; try again", ok=False)

    def _record(self, job: Job) -> InstanceLifecycle:
        """The job's record, made now if the runner has not tracked the finished job yet."""
        record = self.lifecycles.get(job.id)
        if record is None:
            self.lifecycles.add(new_lifecycle(job, self.clock.now()))
            record = self.lifecycles.get(job.id)
        assert record is not None  # added just now, by us or by the runner
        return record

    def _authorize(
        self, action: Action, refused: AuditAction, job: Job, actor: str, email_lookup: Callable[[], str | None]
    ) -> Identity | LifecycleReply:
        try:
            return self.authorizer.check(action, actor, email_lookup, job)
        except Forbidden as exc:
            detail: dict[str, object] = {"reason": exc.reason, "iam_user": exc.identity.iam_user}
            self.audit.record_audit([self._event(actor, refused, job.id, detail, exc.identity)])
            return LifecycleReply(exc.reason, ok=False)

    def _refuse_keep(self, job: Job, actor: str, identity: Identity, why: str) -> LifecycleReply:
        detail: dict[str, object] = {"reason": why, "iam_user": identity.iam_user}
        self.audit.record_audit([self._event(actor, AuditAction.INSTANCE_KEEP_REFUSED, job.id, detail, identity)])
        return LifecycleReply(why, ok=False)

    def _event(
        self, actor: str, action: AuditAction, job_id: str, detail: Mapping[str, object], identity: Identity
    ) -> AuditEvent:
        return AuditEvent(
            at=self.clock.now(),
            actor=actor,
            action=action,
            job_id=job_id,
            detail=dict(detail),
            iam_user=identity.iam_user,
        )
