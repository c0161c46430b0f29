"""Plain-text rendering of stages, progress, completion and status. Pure; Block Kit builds on these strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain import Job, JobStatus, Stage, StageStatus

_MARK = {StageStatus.PENDING: "·", StageStatus.RUNNING: "…", StageStatus.SUCCEEDED: "✓", StageStatus.FAILED: "✗"}


def escape_slack(text: str) -> str:
    """User text made inert in Slack mrkdwn: `<!channel>` or `<https://x|y>` stay text, not a mention or a link
    (Slack doc "Formatting text for app surfaces": escape &, < and >, and only those)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def utc_time(at: datetime) -> str:
    """A time with its date, for surfaces that cannot localize it: `2024-11-25 10:00 UTC`."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def age(delta: timedelta) -> str:
    """How old something is, to the precision an approver needs: `3 d 4 h`, `5 h 20 min`, `12 min`."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else "under a minute"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def elapsed(job: Job, now: datetime) -> float | None:
    if job.started_at is None:
        return None
    return ((job.finished_at or now) - job.started_at).total_seconds()


def stage_line(job: Job, stage: Stage) -> str:
    """One line per stage transition: `[job] ✓ network (1.2s) vpc-..., ...`."""
    text = f"[{job.id}] {_MARK[stage.status]} {stage.name}"
    if stage.status == StageStatus.SUCCEEDED:
        text += f" ({duration(stage.seconds)})"
    if stage.status == StageStatus.FAILED and stage.error:
        return f"{text}: {stage.error}"
    return f"{text} {stage.detail}".rstrip()


def progress_line(job: Job, percent: int) -> str:
    filled = percent // 5
    return f"[{job.id}] restoring {job.plan.database_name}: [{'#' * filled}{'.' * (20 - filled)}] {percent}%"


def completion(job: Job) -> str:
    """What the requester reads at the end: outcome, endpoint, timings, links; or the failure and what's left."""
    total = duration((job.finished_at - job.started_at).total_seconds()) if job.finished_at and job.started_at else "-"
    lines: list[str] = []
    if job.status == JobStatus.SUCCEEDED:
        lines.append(f"[{job.id}] restored {job.plan.database_name} on {job.plan.target_instance_id} in {total}")
        lines.append(f"  endpoint: {job.outputs.endpoint}")
        lines.append(f"  console:  {job.outputs.console_url}")
        if job.outputs.sqlserver_audit_url:
            lines.append(f"  SQL Server audit logs: {job.outputs.sqlserver_audit_url}")
    else:
        lines.append(f"[{job.id}] {job.status} after {total}: {job.error}")
        left = ", ".join(f"{kind} {name}" for kind, name in job.created_resources.items()) or "nothing"
        lines.append(f"  left behind: {left}")
    if job.outputs.audit_record_url:
        lines.append(f"  rdsbot audit record: {job.outputs.audit_record_url}")
    if job.outputs.audit_record_console_url:
        lines.append(f"  rdsbot audit record in the S3 console: {job.outputs.audit_record_console_url}")
    lines.append("  stages: " + ", ".join(f"{s.name} {duration(s.seconds)}" for s in job.stages if s.started_at))
    return "\n".join(lines)


def expired(job: Job, deadline: datetime) -> str:
    """A request that lapsed with nobody deciding, in plain text (the console; Slack's card says it in blocks)."""
    return (
        f"[{job.id}] expired at {utc_time(deadline)} with no decision; nothing was created "
        f"(requested by {job.requester}; ask again with /rds-restore)"
    )


def status_table(jobs: list[Job], now: datetime) -> str:
    """The compact /rds-status table."""
    if not jobs:
        return "no restore jobs yet"
    header = f"{'job':<10} {'requester':<12} {'target':<34} {'status':<17} {'stage':<13} {'done':>4} {'elapsed':>8}"
    rows = [header]
    for job in jobs:
        stage = job.current_stage
        rows.append(
            f"{job.id:<10} {job.requester[:12]:<12} {job.plan.target_instance_id[:34]:<34} {job.status:<17} "
            f"{(stage.name if stage else '-'):<13} {job.percent_complete:>3}% {duration(elapsed(job, now)):>8}"
        )
    return "\n".join(rows)


def timeline(job: Job) -> str:
    """The stage timeline of one job, with durations."""
    lines = [f"{job.id}: {job.status}, requested by {job.requester}, target {job.plan.target_instance_id}"]
    for stage in job.stages:
        at = stage.started_at.strftime("%H:%M:%S") if stage.started_at else "--:--:--"
        detail = stage.error or stage.detail
        lines.append(f"  {_MARK[stage.status]} {at} {stage.name:<13} {duration(stage.seconds):>8}  {detail}".rstrip())
    return "\n".join(lines)
