"""The chat commands, independent of the chat: Slack handlers and the console both call these, so each rule
(parsing, policy, authorization, approvals) is written once. Replies are neutral; surfaces render them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

from bot import audit_view, render
from bot.approvals import Approvals, Decision
from bot.authz import Action, Authorizer, Forbidden
from bot.bootstrap import Rdsbot
from bot.domain import AuditEvent, Job, JobStatus, RestoreRequest
from bot.errors import RdsbotError, RequestError
from bot.parser import USAGE, parse_restore_command
from bot.policy import plan_restore
from bot.ports import AdminDirectory
from bot.service import Submitted


@dataclass(frozen=True)
class Reply:
    """Text for the person who typed the command (ephemeral in Slack)."""

    text: str
    ok: bool = True


HELP = (
    "Restore a native SQL Server backup from S3 onto RDS, after an admin approves.\n"
    f"usage: {USAGE}\n"
    "examples:\n"
    "  /rds-restore prod-backup.bak db.m5.large\n"
    "  /rds-restore s3://rdsbot-backups/nightly/prod_* db.r6i.xlarge --db Prod --multi-az --dry-run\n"
    "then: /rds-status [job-id]; call it off with /rds-restore cancel <job-id> (the requester or an admin)"
)


class ChatCommands:
    def __init__(self, app: Rdsbot, approvals: Approvals) -> None:
        self.app = app
        self.approvals = approvals
        # Extra lines for /rds-status from other features (a failed restore drill must be visible there).
        self.status_notes: list[Callable[[], str | None]] = []

    def check_restore(self, text: str, user: str) -> RestoreRequest | Reply:
        """The fast, pure part of /rds-restore: parse and apply policy. No AWS call, so it fits in Slack's ack."""
        if text.strip() in ("", "help", "--help", "-h"):
            return Reply(HELP)
        try:
            request = parse_restore_command(text)
            plan_restore(request, self.app.policy, "j00000000")  # names are re-derived with the real id later
        except RequestError as exc:
            self._refused(exc, text, user)
            return Reply(f"Cannot restore: {exc}", ok=False)
        return request

    def submit_restore(self, request: RestoreRequest, user: str) -> Submitted | Reply:
        """The slow part: read-only AWS preflight, then record the job awaiting approval."""
        try:
            return self.app.service.submit(request, user)
        except RequestError as exc:
            return Reply(f"Cannot restore: {exc}", ok=False)
        except RdsbotError as exc:
            return Reply(f"Cannot check the request right now: {exc}", ok=False)

    def decide(
        self, job_id: str, user: str, approve: bool, email_lookup: Callable[[], str | None], reason: str | None = None
    ) -> Decision:
        return self.approvals.decide(job_id, user, approve, email_lookup, reason)

    def status(self, text: str) -> Reply:
        job_id = text.strip()
        now = self.app.clock.now()
        if not job_id:
            running = self.app.store.list_jobs({JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.AWAITING_APPROVAL})
            recent = [j for j in self.app.store.list_jobs(limit=10) if j.id not in {r.id for r in running}]
            notes = [note for note in (read() for read in self.status_notes) if note]
            return Reply("\n".join([*notes, render.status_table(running + recent, now)]))
        job = self.app.store.get_job(job_id)
        if job is None:
            return Reply(f"No restore job {job_id!r}; /rds-status lists the recent ones", ok=False)
        lines = [render.timeline(job)]
        for approval in self.app.store.approvals(job.id):
            reason = f": {approval.reason}" if approval.reason else ""
            lines.append(f"  {approval.decision} by {approval.actor} at {approval.at:%Y-%m-%d %H:%M} UTC{reason}")
        if job.error:
            lines.append(f"  error: {job.error}")
        return Reply("\n".join(lines))

    def cancel(self, job_id: str, user: str, email_lookup: Callable[[], str | None]) -> Reply:
        """Call off a restore: withdrawn before approval, or cancelled by the engine (rds_cancel_task if running)."""
        job = self.app.store.get_job(job_id)
        if job is None:
            return Reply(f"No restore job {job_id!r}; /rds-status lists the recent ones", ok=False)
        now = self.app.clock.now()
        try:
            identity = self.approvals.authorizer.check(Action.CANCEL, user, email_lookup, job)
        except Forbidden as refused:
            self.app.store.record_audit(
                [
                    AuditEvent(
                        at=now,
                        actor=user,
                        action="cancel.refused",
                        job_id=job.id,
                        detail={"reason": refused.reason, "iam_user": refused.identity.iam_user},
                    )
                ]
            )
            return Reply(refused.reason, ok=False)
        who = {"iam_user": identity.iam_user, "status": job.status}
        if job.status == JobStatus.AWAITING_APPROVAL:
            withdrawn = AuditEvent(at=now, actor=user, action="job.cancelled", job_id=job.id, detail=who)
            if self.app.store.transition(job.id, JobStatus.AWAITING_APPROVAL, JobStatus.CANCELLED, [withdrawn]):
                return Reply(f"{job.id} withdrawn before approval; nothing was created")
        else:
            asked = AuditEvent(at=now, actor=user, action="job.cancel_requested", job_id=job.id, detail=who)
            if self.app.store.request_cancel(job.id, user, [asked]):
                self.app.engine.wake.set()
                return Reply(f"cancelling {job.id}; anything already created is listed when it stops")
        current = self.app.store.get_job(job.id) or job
        if current.cancel_requested_by and not current.status.finished:
            return Reply(f"{job.id} is already being cancelled (asked by {current.cancel_requested_by})", ok=False)
        return Reply(f"{job.id} is {current.status}; nothing to cancel", ok=False)

    def job(self, job_id: str) -> Job | None:
        return self.app.store.get_job(job_id)

    def audit(self, text: str) -> Reply:
        """/rds-audit <job-id>: the job's events in order; /rds-audit alone: today's (UTC) decisions."""
        job_id = text.strip()
        if job_id:
            events = self.app.store.audit_events(job_id)
            return Reply(audit_view.job_trail(job_id, events), ok=bool(events))
        day = self.app.clock.now().astimezone(UTC).date().isoformat()
        return Reply(audit_view.decisions(day, self.app.store.audit_day(day)[0]))

    def _refused(self, exc: RequestError, text: str, user: str) -> None:
        self.app.store.record_audit(
            [
                AuditEvent(
                    at=self.app.clock.now(),
                    actor=user,
                    action="request.refused",
                    detail={"field": exc.field, "reason": str(exc), "text": text},
                )
            ]
        )


def build_commands(app: Rdsbot, directory: AdminDirectory | None = None) -> ChatCommands:
    """Commands over the wired app; approvers come from the admin IAM group unless a directory is given."""
    if directory is None:
        from aws.admin_directory import IamAdminDirectory

        iam = app.clients_for(app.policy.region.default).iam
        directory = IamAdminDirectory(iam, app.policy.approvals.admin_iam_group)
    authorizer = Authorizer(directory, app.policy)
    approvals = Approvals(app.store, authorizer, app.policy, app.clock, on_approved=app.engine.wake.set)
    return ChatCommands(app, approvals)
