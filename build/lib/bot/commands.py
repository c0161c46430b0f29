"""The chat commands, independent of the chat: Slack handlers and the console both call these, so each rule
(parsing, policy, authorization, decisions) is written once. Replies are neutral; surfaces render them.

The commands get the narrow things they use from the composition root (bot/bootstrap/), never the app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC

from bot import audit_view, render
from bot.approvals import Decision, Decisions
from bot.clock import Clock
from bot.domain import Job, JobStatus, RestoreRequest
from bot.errors import RdsbotError, RequestError
from bot.parser import USAGE, parse_restore_command
from bot.policy import plan_restore
from bot.ports import ApprovalRepository, AuditLog, JobRepository
from bot.service import RestoreService, Submitted
from config.policy_model import Policy


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


@dataclass
class ChatCommands:
    policy: Policy
    clock: Clock
    service: RestoreService
    decisions: Decisions
    jobs: JobRepository
    approvals: ApprovalRepository
    audit_log: AuditLog
    # Extra lines for /rds-status from other features (a failed restore drill must be visible there).
    status_notes: list[Callable[[], str | None]] = field(default_factory=list)

    def check_restore(self, text: str, user: str) -> RestoreRequest | Reply:
        """The fast, pure part of /rds-restore: parse and apply policy. No AWS call, so it fits in Slack's ack."""
        if text.strip() in ("", "help", "--help", "-h"):
            return Reply(HELP)
        try:
            request = parse_restore_command(text)
            plan_restore(request, self.policy, "j00000000")  # names are re-derived with the real id later
        except RequestError as exc:
            self.service.refuse(user, exc, text=text)
            return Reply(f"Cannot restore: {exc}", ok=False)
        return request

    def submit_restore(self, request: RestoreRequest, user: str, text: str | None = None) -> Submitted | Reply:
        """The slow part: read-only AWS preflight, then record the job awaiting approval."""
        try:
            return self.service.submit(request, user, text=text)
        except RequestError as exc:
            return Reply(f"Cannot restore: {exc}", ok=False)
        except RdsbotError as exc:
            return Reply(f"Cannot check the request right now: {exc}", ok=False)

    def decide(
        self, job_id: str, user: str, approve: bool, email_lookup: Callable[[], str | None], reason: str | None = None
    ) -> Decision:
        return self.decisions.decide(job_id, user, approve, email_lookup, reason)

    def cancel(self, job_id: str, user: str, email_lookup: Callable[[], str | None]) -> Reply:
        """Call off a restore (the requester or an admin); the rule is in bot/approvals.py."""
        decision = self.decisions.cancel(job_id, user, email_lookup)
        return Reply(decision.message, ok=decision.ok)

    def status(self, text: str) -> Reply:
        job_id = text.strip()
        now = self.clock.now()
        if not job_id:
            running = self.jobs.list_jobs({JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.AWAITING_APPROVAL})
            recent = [j for j in self.jobs.list_jobs(limit=10) if j.id not in {r.id for r in running}]
            notes = [note for note in (read() for read in self.status_notes) if note]
            return Reply("\n".join([*notes, render.status_table(running + recent, now)]))
        job = self.jobs.get_job(job_id)
        if job is None:
            return Reply(f"No restore job {job_id!r}; /rds-status lists the recent ones", ok=False)
        lines = [render.timeline(job)]
        for approval in self.approvals.approvals(job.id):
            reason = f": {approval.reason}" if approval.reason else ""
            lines.append(f"  {approval.decision} by {approval.actor} at {approval.at:%Y-%m-%d %H:%M} UTC{reason}")
        if job.error:
            lines.append(f"  error: {job.error}")
        return Reply("\n".join(lines))

    def job(self, job_id: str) -> Job | None:
        return self.jobs.get_job(job_id)

    def audit(self, text: str) -> Reply:
        """/rds-audit <job-id>: the job's events in order; /rds-audit alone: today's (UTC) decisions."""
        job_id = text.strip()
        if job_id:
            events = self.audit_log.audit_events(job_id)
            return Reply(audit_view.job_trail(job_id, events), ok=bool(events))
        day = self.clock.now().astimezone(UTC).date().isoformat()
        return Reply(audit_view.decisions(day, self.audit_log.audit_day(day)[0]))
