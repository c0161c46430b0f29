"""One living message per restore, pure: the progress message (a stage checklist and a progress bar) that is edited
in place, the final message that mentions the requester, and the line the approval card ends with.

Why so few messages: a restore used to post a start and an end line per stage and edit its percentage every second,
about 21 Web API calls per restore; in a busy approvals channel (chat.postMessage: about 1 per second per channel)
that queued everybody's cards behind it. The budget is 6 calls for a successful restore, whatever its duration:
the card, its update on the decision, the progress message, its one edit to the final state, the final message and
the card's update on completion. Interim edits of the progress message would each cost one more call, so while the
progress message is still waiting to be sent its content is simply replaced (free), and once sent it is edited only
within `interim_edit_budget` (0 by default, to hold the 6; see handlers/slack_notifier.py).
"""

from __future__ import annotations

from bot import render
from bot.domain import TASK_WAIT_STAGES, Job, JobStatus, StageStatus
from bot.slack_text import SlackText, lines, mention, mrkdwn


def progress_text(job: Job) -> SlackText:
    """The checklist: one line per stage with its mark and duration, the restore's bar on its line (Slack mrkdwn:
    names and errors that quote a request escaped once)."""
    text = [f"[{job.id}] {render.what_it_does(job)}: {job.status}"]
    for stage in job.stages:
        line = f"{render.STAGE_MARK[stage.status]} {stage.name}"
        if stage.status == StageStatus.SUCCEEDED:
            line += f" ({render.duration(stage.seconds)})"
        if stage.name in TASK_WAIT_STAGES and stage.status != StageStatus.PENDING:
            line += f" {render.progress_bar(100 if stage.status == StageStatus.SUCCEEDED else job.percent_complete)}"
            line += render.chain_step(job)
        if stage.status == StageStatus.FAILED and stage.error:
            line += f": {stage.error}"
        text.append(line)
    return lines(text)


def final_text(job: Job) -> SlackText:
    """The last message of the thread: it mentions the requester, so Slack notifies them (an edit would not)."""
    outcome = {
        JobStatus.SUCCEEDED: f"your {job.kind} is done",
        JobStatus.CANCELLED: f"your {job.kind} was cancelled",
    }.get(job.status, f"your {job.kind} failed")
    return mrkdwn("{} {}\n{}", mention(job.requester), outcome, render.completion(job))


def card_outcome(job: Job) -> SlackText:
    """What the approval card says once the restore is over (after the decision line)."""
    when = job.finished_at.strftime("%Y-%m-%d %H:%M UTC") if job.finished_at else "-"
    if job.status == JobStatus.SUCCEEDED and job.plan.backup is not None:
        backup = job.plan.backup
        return mrkdwn("✅ Backed up {} to {} at {}; details in the thread", job.plan.database_name, backup.url, when)
    if job.status == JobStatus.SUCCEEDED:
        plan = job.plan
        return mrkdwn(
            "✅ Restored {} on {} at {}; details in the thread", plan.database_name, plan.target_instance_id, when
        )
    if job.status == JobStatus.CANCELLED:
        return mrkdwn("🛑 Cancelled at {}: {}", when, job.error or "by request")
    return mrkdwn("❌ Failed at {}: {}", when, job.error or "see the thread")
