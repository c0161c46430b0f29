"""Text rendering of stages, progress, completion and status, as Slack mrkdwn with every outside field escaped
(bot/slack_text.py); the console prints them unescaped. Pure; Block Kit builds on these strings."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from bot import chain_stages, into_option_group
from bot.domain import Job, JobStatus, Stage, StageStatus
from bot.keep_window import format_duration
from bot.server_audit import audit_link_text
from bot.slack_text import SlackText, lines, mrkdwn

STAGE_MARK = {StageStatus.PENDING: "·", StageStatus.RUNNING: "…", StageStatus.SUCCEEDED: "✓", StageStatus.FAILED: "✗"}


def utc_time(at: datetime | None) -> str:
    """A time with its date, for surfaces that cannot localize it: `2024-11-25 10:00 UTC` ("-" for none)."""
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


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


def stage_line(job: Job, stage: Stage) -> SlackText:
    """One line per stage transition: `[job] ✓ network (1.2s) vpc-..., ...`."""
    text = f"[{job.id}] {STAGE_MARK[stage.status]} {stage.name}"
    if stage.status == StageStatus.SUCCEEDED:
        text += f" ({duration(stage.seconds)})"
    if stage.status == StageStatus.FAILED and stage.error:
        return mrkdwn("{}: {}", text, stage.error)
    return SlackText.escape(f"{text} {stage.detail}".rstrip())


BAR_WIDTH = 20


def progress_bar(percent: int) -> str:
    """`[##########..........] 50%`: the one bar of the console's progress line and Slack's living message."""
    filled = max(0, min(BAR_WIDTH, percent * BAR_WIDTH // 100))
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {percent}%"


def progress_line(job: Job, percent: int) -> SlackText:
    verb = "backing up" if job.plan.backup is not None else "restoring"
    return mrkdwn("[{}] {} {}: {}{}", job.id, verb, job.plan.database_name, progress_bar(percent), chain_step(job))


def what_it_does(job: Job) -> str:
    """`restoring db onto instance`, or `backing up db on instance to s3://...`: a job's one-line purpose."""
    plan = job.plan
    if plan.backup is not None:
        return f"backing up {plan.database_name} on {plan.target_instance_id} to {plan.backup.url}"
    return f"restoring {plan.database_name} onto {plan.target_instance_id}"


def chain_step(job: Job) -> str:
    """` (step k of n)` while a chain restores, else nothing: the percent is of the whole chain, the step says
    which statement RDS is working on."""
    if job.plan.chain is None or not job.outputs.chain_tasks:
        return ""
    return f" (step {len(job.outputs.chain_tasks)} of {len(chain_stages.steps_of(job.plan))})"


def completion(job: Job) -> SlackText:
    """What the requester reads at the end: outcome, endpoint, timings, links; or the failure and what's left."""
    total = duration((job.finished_at - job.started_at).total_seconds()) if job.finished_at and job.started_at else "-"
    # Plain lines, escaped once when joined: URLs too (a presigned URL's `&` must reach Slack as `&amp;`).
    text: list[str] = []
    if job.status == JobStatus.SUCCEEDED and job.plan.backup is not None:
        text += _backup_done(job, total)
    elif job.status == JobStatus.SUCCEEDED:
        text.append(f"[{job.id}] restored {job.plan.database_name} on {job.plan.target_instance_id} in {total}")
        text.append(f"  endpoint: {job.outputs.endpoint}")
        text.append(f"  console:  {job.outputs.console_url}")
        if job.outputs.sqlserver_audit_url:
            link_text = audit_link_text(job.outputs.sqlserver_audit_extension or ".zip")
            text.append(f"  {link_text}: {job.outputs.sqlserver_audit_url}")
        if job.outputs.server_audit_skipped:
            text.append(f"  SQL Server Audit: {job.outputs.server_audit_skipped}")
    else:
        text.append(f"[{job.id}] {job.status} after {total}: {job.error}")
        left = ", ".join(f"{kind} {name}" for kind, name in job.created_resources.items()) or "nothing"
        text.append(f"  left behind: {left}")
    text.extend(_option_group_changed(job))
    keep = job.plan.keep
    if keep is not None and job.finished_at is not None and job.created_resources and not job.is_drill:
        what = f"{job.plan.target_instance_id}" if "instance" in job.created_resources else "what it created"
        text.append(
            f"  {what} is deleted at {utc_time(job.finished_at + keep)} (keep {format_duration(keep)}); a reminder "
            f"comes first; /rds-restore delete {job.id} deletes it now"
        )
    if job.outputs.audit_record_url:
        text.append(f"  rdsbot audit record: {job.outputs.audit_record_url}")
    if job.outputs.audit_record_console_url:
        text.append(f"  rdsbot audit record in the S3 console: {job.outputs.audit_record_console_url}")
    text.append("  stages: " + ", ".join(f"{s.name} {duration(s.seconds)}" for s in job.stages if s.started_at))
    return lines(text)


def _option_group_changed(job: Job) -> list[str]:
    """An --into job that gave the instance a new option group says so at the end, success or not, with the way back."""
    previous = job.outputs.previous_option_group
    into = job.plan.into
    if previous is None or into is None:
        return []
    instance_id = job.plan.target_instance_id
    return [
        f"  option group: rdsbot applied {into.new_option_group} to {instance_id} (was {previous}) and never puts "
        f"the old one back; to do so: {into_option_group.put_back_command(instance_id, previous)}"
    ]


def _backup_done(job: Job, total: str) -> list[str]:
    """A finished backup: each object's s3:// link and the size, read back from S3 at finalize."""
    plan, outputs = job.plan, job.outputs
    objects = outputs.backup_objects or ()
    size = outputs.backup_bytes or 0
    done = [
        f"[{job.id}] backed up {plan.database_name} on {plan.target_instance_id} in {total}: {len(objects)} "
        f"object(s), {size} bytes"
    ]
    done += [f"  object: {url}" for url in objects]
    if outputs.console_url:
        done.append(f"  console:  {outputs.console_url}")
    return done


def expired(job: Job, deadline: datetime) -> SlackText:
    """A request that lapsed with nobody deciding (the console; Slack's card says it in blocks)."""
    return mrkdwn(
        "[{}] expired at {} with no decision; nothing was created (requested by {}; ask again with /rds-restore)",
        job.id,
        utc_time(deadline),
        job.requester,
    )


def status_table(jobs: list[Job], now: datetime, goes: Mapping[str, str] | None = None) -> SlackText:
    """The compact /rds-status table; `goes`: when each job's instance is deleted, by job id."""
    if not jobs:
        return SlackText("no restore jobs yet")
    header = (
        f"{'job':<10} {'requester':<12} {'target':<34} {'status':<17} {'stage':<13} {'done':>4} {'elapsed':>8}"
        "  instance goes"
    )
    rows = [header]
    goes = goes or {}
    for job in jobs:
        stage = job.current_stage
        rows.append(
            f"{job.id:<10} {job.requester[:12]:<12} {_target(job)[:34]:<34} {job.status:<17} "
            f"{(stage.name if stage else '-'):<13} {job.percent_complete:>3}% {duration(elapsed(job, now)):>8}"
            f"  {goes.get(job.id, '-')}"
        )
    return lines(rows)


def _target(job: Job) -> str:
    plan = job.plan
    return f"backup {plan.target_instance_id}/{plan.database_name}" if plan.backup else plan.target_instance_id


def keep_reminder(job: Job, delete_at: datetime | None) -> SlackText:
    """The reminder before a restored instance is deleted."""
    return mrkdwn(
        "[{}] ⏰ {} is deleted at {}, when its keep window ends",
        job.id,
        job.plan.target_instance_id,
        utc_time(delete_at),
    )


def timeline(job: Job, goes: str | None = None) -> SlackText:
    """The stage timeline of one job, with durations; `goes`: when its instance is deleted."""
    purpose = what_it_does(job) if job.plan.backup else f"target {job.plan.target_instance_id}"
    text = [f"{job.id}: {job.status}, requested by {job.requester}, {purpose}"]
    if goes is not None:
        text.append(f"  instance goes: {goes}")
    for stage in job.stages:
        at = stage.started_at.strftime("%H:%M:%S") if stage.started_at else "--:--:--"
        detail = stage.error or stage.detail
        text.append(
            f"  {STAGE_MARK[stage.status]} {at} {stage.name:<13} {duration(stage.seconds):>8}  {detail}".rstrip()
        )
    return lines(text)
