"""Text rendering of stages, progress, completion and status, as Slack mrkdwn with every outside field escaped
(bot/slack_text.py); the console prints them unescaped. Pure; Block Kit builds on these strings."""

from __future__ import annotations

from datetime import datetime

from bot.domain import Job, JobStatus, Stage, StageStatus
from bot.slack_text import SlackText, lines, mrkdwn

_MARK = {StageStatus.PENDING: "·", StageStatus.RUNNING: "…", StageStatus.SUCCEEDED: "✓", StageStatus.FAILED: "✗"}


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


def stage_line(job: Job, stage: Stage) -> SlackText:
    """One line per stage transition: `[job] ✓ network (1.2s) vpc-..., ...`."""
    text = f"[{job.id}] {_MARK[stage.status]} {stage.name}"
    if stage.status == StageStatus.SUCCEEDED:
        text += f" ({duration(stage.seconds)})"
    if stage.status == StageStatus.FAILED and stage.error:
        return mrkdwn("{}: {}", text, stage.error)
    return SlackText.escape(f"{text} {stage.detail}".rstrip())


def progress_line(job: Job, percent: int) -> SlackText:
    filled = percent // 5
    bar = f"[{'#' * filled}{'.' * (20 - filled)}]"
    return mrkdwn("[{}] restoring {}: {} {}%", job.id, job.plan.database_name, bar, percent)


def completion(job: Job) -> SlackText:
    """What the requester reads at the end: outcome, endpoint, timings, links; or the failure and what's left."""
    total = duration((job.finished_at - job.started_at).total_seconds()) if job.finished_at and job.started_at else "-"
    # Plain lines, escaped once when joined: URLs too (a presigned URL's `&` must reach Slack as `&amp;`).
    text: list[str] = []
    if job.status == JobStatus.SUCCEEDED:
        text.append(f"[{job.id}] restored {job.plan.database_name} on {job.plan.target_instance_id} in {total}")
        text.append(f"  endpoint: {job.outputs.endpoint}")
        text.append(f"  console:  {job.outputs.console_url}")
        if job.outputs.sqlserver_audit_url:
            text.append(f"  SQL Server audit logs: {job.outputs.sqlserver_audit_url}")
    else:
        text.append(f"[{job.id}] {job.status} after {total}: {job.error}")
        left = ", ".join(f"{kind} {name}" for kind, name in job.created_resources.items()) or "nothing"
        text.append(f"  left behind: {left}")
    if job.outputs.audit_record_url:
        text.append(f"  rdsbot audit record: {job.outputs.audit_record_url}")
    if job.outputs.audit_record_console_url:
        text.append(f"  rdsbot audit record in the S3 console: {job.outputs.audit_record_console_url}")
    text.append("  stages: " + ", ".join(f"{s.name} {duration(s.seconds)}" for s in job.stages if s.started_at))
    return lines(text)


def status_table(jobs: list[Job], now: datetime) -> SlackText:
    """The compact /rds-status table."""
    if not jobs:
        return SlackText("no restore jobs yet")
    header = f"{'job':<10} {'requester':<12} {'target':<34} {'status':<17} {'stage':<13} {'done':>4} {'elapsed':>8}"
    rows = [header]
    for job in jobs:
        stage = job.current_stage
        rows.append(
            f"{job.id:<10} {job.requester[:12]:<12} {job.plan.target_instance_id[:34]:<34} {job.status:<17} "
            f"{(stage.name if stage else '-'):<13} {job.percent_complete:>3}% {duration(elapsed(job, now)):>8}"
        )
    return lines(rows)


def timeline(job: Job) -> SlackText:
    """The stage timeline of one job, with durations."""
    text = [f"{job.id}: {job.status}, requested by {job.requester}, target {job.plan.target_instance_id}"]
    for stage in job.stages:
        at = stage.started_at.strftime("%H:%M:%S") if stage.started_at else "--:--:--"
        detail = stage.error or stage.detail
        text.append(f"  {_MARK[stage.status]} {at} {stage.name:<13} {duration(stage.seconds):>8}  {detail}".rstrip())
    return lines(text)
