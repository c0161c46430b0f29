"""Views of the audit trail for /rds-audit: one job's events in order, and a day's decisions. Pure.

Events hold what people typed (a refused request's text, a deny reason): the views escape it once for Slack."""

from __future__ import annotations

from bot.domain import AuditAction, AuditEvent
from bot.slack_text import SlackText, lines

# What a person decided, or what a rule decided for them: the answers to "who allowed or refused what today".
DECISIONS = frozenset(
    {
        AuditAction.JOB_APPROVED,
        AuditAction.JOB_DENIED,
        AuditAction.BACKUP_APPROVED,
        AuditAction.BACKUP_DENIED,
        AuditAction.APPROVAL_REFUSED,
        AuditAction.APPROVAL_EXPIRED,
        AuditAction.APPROVAL_IGNORED,
        AuditAction.REQUEST_REFUSED,
    }
)
# Detail fields short and safe enough for chat; plans and outputs stay in the trail, one command away.
_SHOWN = ("stage", "action", "status", "field", "reason")
_MAX_LINES = 60


def event_line(event: AuditEvent) -> str:
    """`09:14:03 #12 U0BOB (bob) job.approved reason=...`."""
    who = event.actor + (f" ({event.iam_user})" if event.iam_user else "")
    bits = [f"{name}={event.detail[name]}" for name in _SHOWN if event.detail.get(name) not in (None, "")]
    requests = event.detail.get("aws_requests") or []
    if requests:
        bits.append("aws=" + ",".join(str(r.get("operation", "?")).split(":")[-1] for r in requests))
    job = f" {event.job_id}" if event.job_id else ""
    return f"{event.at:%H:%M:%S} #{event.seq} {who} {event.action}{job} {' '.join(bits)}".rstrip()


def job_trail(job_id: str, events: list[AuditEvent]) -> SlackText:
    """Every event of one job, in the order it happened."""
    if not events:
        return SlackText.escape(f"no audit events for {job_id}")
    return _capped([f"audit trail of {job_id} ({events[0].at:%Y-%m-%d} UTC):", *map(event_line, events)])


def decisions(day: str, events: list[AuditEvent]) -> SlackText:
    """The day's decisions: approvals, denials, refusals, expiries, ignored clicks."""
    chosen = [e for e in events if e.action in DECISIONS]
    if not chosen:
        return SlackText.escape(f"no decisions on {day} (UTC) yet")
    return _capped([f"decisions on {day} (UTC):", *map(event_line, chosen)])


def _capped(shown: list[str]) -> SlackText:
    if len(shown) <= _MAX_LINES:
        return lines(shown)
    # Slack truncates long messages; the newest lines matter most, and the whole trail is in S3.
    return lines([shown[0], f"... {len(shown) - _MAX_LINES} earlier line(s) omitted", *shown[-_MAX_LINES + 1 :]])
