"""The chat commands, independent of the chat: Slack handlers and the console both call these, so each rule
(parsing, policy, authorization, decisions) is written once. Replies are neutral; surfaces render them.

The commands get the narrow things they use from the composition root (bot/bootstrap/), never the app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC

from bot import audit_view, render
from bot.approvals import Decision, Decisions, Outcome
from bot.backup_checks import plan_backup
from bot.backup_request import USAGE as BACKUP_USAGE, BackupRequest, parse_backup_command
from bot.clock import Clock
from bot.domain import Job, JobStatus, RestoreRequest
from bot.errors import RdsbotError, RequestError
from bot.lifecycle.commands import LifecycleCommands
from bot.lifecycle.runner import goes_text
from bot.parser import USAGE, parse_restore_command
from bot.policy import plan_restore
from bot.ports import ApprovalRepository, AuditLog, JobRepository
from bot.service import RestoreService, Submitted
from bot.slack_text import SlackText, lines, mrkdwn
from config.policy_model import Policy


@dataclass(frozen=True)
class Reply:
    """Text for the person who typed the command (ephemeral in Slack), request fields escaped once."""

    text: SlackText
    ok: bool = True


HELP_TEXT = (
    "Restore a native SQL Server backup from S3 onto RDS, after an admin approves.\n"
    f"usage: {USAGE}\n"
    "examples:\n"
    "  /rds-restore prod-backup.bak db.m5.large\n"
    "  /rds-restore s3://rdsbot-backups/nightly/prod_* db.r6i.xlarge --db Prod --multi-az --dry-run\n"
    "then: /rds-status [job-id]; call it off with /rds-restore cancel <job-id> [--rollback] (the requester or an "
    "admin; --rollback, or /rds-restore cleanup <job-id> after a failure, deletes what it created)\n"
    "the instance is deleted when its keep window ends (--keep, or the policy's default; a reminder with a button to "
    "keep it longer comes first); /rds-restore delete <job-id> deletes it now (the requester or an admin)"
)
HELP = SlackText.escape(HELP_TEXT)  # `<backup>` and `<job-id>` would otherwise be read as Slack links
BACKUP_HELP_TEXT = (
    "Back up a database of an existing RDS SQL Server instance to S3 (rds_backup_database), after an admin approves.\n"
    f"usage: {BACKUP_USAGE}\n"
    "the destination must match the policy's backups.allowed_destinations; left out, the backup goes under the first "
    "of them as <instance>/<database>-<job-id>.bak. An existing object is refused unless --overwrite; more than one "
    "file needs one * in the file name (RDS names the files 1-of-N ... N-of-N); --type differential needs a full "
    "backup taken on the instance since the database was restored\n"
    "examples:\n"
    "  /rds-backup rdsbot-prod-backup-j1234abcd prod_backup s3://rdsbot-backups/copies/prod-copy.bak\n"
    "  /rds-backup rdsbot-prod-backup-j1234abcd prod_backup s3://rdsbot-backups/copies/prod-*.bak --files 4\n"
    "then: /rds-status [job-id]; call it off with /rds-restore cancel <job-id>"
)
BACKUP_HELP = SlackText.escape(BACKUP_HELP_TEXT)


# /rds-restore's verbs besides a restore, with their usage.
JOB_VERBS = {"cancel": "cancel <job-id> [--rollback]", "delete": "delete <job-id>", "cleanup": "cleanup <job-id>"}


def job_ids_of(verb: str, args: list[str]) -> list[str]:
    """The job ids a job verb names: `--rollback` is a flag of cancel, and a word like any other elsewhere."""
    return [word for word in args if word != "--rollback" or verb != "cancel"]


@dataclass
class ChatCommands:
    policy: Policy
    clock: Clock
    service: RestoreService
    decisions: Decisions
    jobs: JobRepository
    approvals: ApprovalRepository
    audit_log: AuditLog
    # Keeping and deleting restored instances; None where nothing deletes them (a command-line tool).
    lifecycle: LifecycleCommands | None = None
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
            return Reply(mrkdwn("Cannot restore: {}", exc), ok=False)
        return request

    def submit_restore(self, request: RestoreRequest, user: str, text: str | None = None) -> Submitted | Reply:
        """The slow part: read-only AWS preflight, then record the job awaiting approval."""
        try:
            return self.service.submit(request, user, text=text)
        except RequestError as exc:
            return Reply(mrkdwn("Cannot restore: {}", exc), ok=False)
        except RdsbotError as exc:
            return Reply(mrkdwn("Cannot check the request right now: {}", exc), ok=False)

    def check_backup(self, text: str, user: str) -> BackupRequest | Reply:
        """The fast, pure part of /rds-backup: parse and apply policy, no AWS call (it fits in Slack's ack)."""
        if text.strip() in ("", "help", "--help", "-h"):
            return Reply(BACKUP_HELP)
        try:
            request = parse_backup_command(text)
            plan_backup(request, self.policy, "j00000000")  # the default destination takes the real id later
        except RequestError as exc:
            self.service.refuse(user, exc, text=text)
            return Reply(mrkdwn("Cannot back up: {}", exc), ok=False)
        return request

    def submit_backup(self, request: BackupRequest, user: str, text: str | None = None) -> Job | Reply:
        """The slow part: the read-only checks (instance, database, destination, role), then the job awaits approval."""
        try:
            return self.service.submit_backup(request, user, text=text)
        except RequestError as exc:
            return Reply(mrkdwn("Cannot back up: {}", exc), ok=False)
        except RdsbotError as exc:
            return Reply(mrkdwn("Cannot check the request right now: {}", exc), ok=False)

    def decide(
        self, job_id: str, user: str, approve: bool, email_lookup: Callable[[], str | None], reason: str | None = None
    ) -> Decision:
        return self.decisions.decide(job_id, user, approve, email_lookup, reason)

    def cancel(
        self, job_id: str, user: str, email_lookup: Callable[[], str | None], *, rollback: bool = False
    ) -> Reply:
        """Call off a restore (the requester or an admin); the rule is in bot/approvals.py. With `rollback`, what
        the job created is deleted once it has stopped (bot/lifecycle/commands.py)."""
        decision = self.decisions.cancel(job_id, user, email_lookup)
        if not rollback or decision.outcome in (Outcome.REFUSED, Outcome.UNKNOWN_JOB, Outcome.WITHDRAWN):
            return Reply(decision.message, ok=decision.ok)
        rolled = self.clean_up(job_id, user, email_lookup)
        return Reply(lines([decision.message, rolled.text]), ok=rolled.ok)

    def clean_up(self, job_id: str, user: str, email_lookup: Callable[[], str | None]) -> Reply:
        """Delete what a failed or cancelled restore created (the "Clean up" button; the requester or an admin)."""
        if self.lifecycle is None:
            return Reply(SlackText("deleting instances is not available here"), ok=False)
        reply = self.lifecycle.rollback(job_id, user, email_lookup)
        return Reply(SlackText.escape(reply.text), ok=reply.ok)  # its texts quote the job id as typed

    def job_command(self, text: str, user: str, email_lookup: Callable[[], str | None]) -> Reply | None:
        """`cancel <job> [--rollback]`, `delete <job>`, `cleanup <job>`: the verbs /rds-restore takes besides a
        restore, for every surface; None when `text` is a restore request."""
        words = text.split()
        verb, args = (words[0], words[1:]) if words else ("", [])
        if verb not in JOB_VERBS:
            return None
        rollback = verb == "cancel" and "--rollback" in args
        job_ids = job_ids_of(verb, args)
        if len(job_ids) != 1:
            return Reply(SlackText.escape(f"usage: /rds-restore {JOB_VERBS[verb]}"), ok=False)
        if verb == "cancel":
            return self.cancel(job_ids[0], user, email_lookup, rollback=rollback)
        act = self.delete if verb == "delete" else self.clean_up
        return act(job_ids[0], user, email_lookup)

    def delete(self, job_id: str, user: str, email_lookup: Callable[[], str | None]) -> Reply:
        """Delete a restore's instance now (the requester or an admin); the rule is in bot/lifecycle/commands.py."""
        if self.lifecycle is None:
            return Reply(SlackText("deleting instances is not available here"), ok=False)
        reply = self.lifecycle.delete(job_id, user, email_lookup)
        return Reply(SlackText.escape(reply.text), ok=reply.ok)  # its texts quote the job id as typed

    def keep_more(self, job_id: str, user: str, email_lookup: Callable[[], str | None]) -> Reply:
        """The reminder's button: keep the instance longer (the requester or an admin)."""
        if self.lifecycle is None:
            return Reply(SlackText("keeping instances longer is not available here"), ok=False)
        reply = self.lifecycle.keep_more(job_id, user, email_lookup)
        return Reply(SlackText.escape(reply.text), ok=reply.ok)  # its texts quote the job id as typed

    def _goes(self, jobs: list[Job]) -> dict[str, str]:
        if self.lifecycle is None:
            return {}
        records = self.lifecycle.lifecycles.for_jobs([j.id for j in jobs])
        return {j.id: goes_text(records.get(j.id), j) for j in jobs}

    def status(self, text: str) -> Reply:
        job_id = text.strip()
        now = self.clock.now()
        if not job_id:
            running = self.jobs.list_jobs({JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.AWAITING_APPROVAL})
            recent = [j for j in self.jobs.list_jobs(limit=10) if j.id not in {r.id for r in running}]
            notes = [note for note in (read() for read in self.status_notes) if note]
            listed = running + recent
            return Reply(lines([*notes, render.status_table(listed, now, self._goes(listed))]))
        job = self.jobs.get_job(job_id)
        if job is None:
            return Reply(mrkdwn("No restore job {!r}; /rds-status lists the recent ones", job_id), ok=False)
        shown: list[str] = [render.timeline(job, self._goes([job]).get(job.id))]
        for approval in self.approvals.approvals(job.id):
            reason = f": {approval.reason}" if approval.reason else ""
            shown.append(f"  {approval.decision} by {approval.actor} at {approval.at:%Y-%m-%d %H:%M} UTC{reason}")
        if job.error:
            shown.append(f"  error: {job.error}")
        return Reply(lines(shown))

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
