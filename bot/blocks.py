"""Block Kit for Slack: the approval card, the decided card, progress and completion. Pure dicts, no Slack SDK.

mrkdwn fields take SlackText only (bot/slack_text.py): request fields are escaped once, where they are rendered.
plain_text fields are shown as typed, without parsing, so they take plain `str` (Block Kit reference, "Text
object": `plain_text` is not formatted)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot import card_facts, render
from bot.domain import Job
from bot.slack_text import SlackText, lines, mention, mrkdwn

Block = dict[str, Any]
APPROVE_ACTION = "rds_restore_approve"
DENY_ACTION = "rds_restore_deny"
DENY_REASON_VIEW = "rds_restore_deny_reason"
DENY_REASON_BLOCK = "reason"
DENY_REASON_INPUT = "reason_input"
CLEANUP_ACTION = "rds_cleanup"
KEEP_ACTION = "rds_instance_keep"


def _text(text: SlackText) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text.clip(3000)}}


def _context(text: SlackText) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text.clip(3000)}]}


class SlackStyle:
    """Slack mrkdwn: times as date tokens each reader sees in their own time zone, users as mentions, outside text
    escaped once."""

    def time(self, at: datetime) -> SlackText:
        return slack_date(at)

    def user(self, user_id: str) -> SlackText:
        return mention(user_id)

    def line(self, template: str, *parts: str) -> SlackText:
        return mrkdwn(template, *parts)


SLACK = SlackStyle()


def slack_date(at: datetime) -> SlackText:
    """A date token (Slack doc "Formatting text for app surfaces", dates): Slack shows `Today 10:00 AM` in the
    reader's own zone and format; clients that cannot, show the UTC fallback after the `|`."""
    return SlackText(f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{render.utc_time(at)}>")


def card_summary(job: Job) -> SlackText:
    """The facts an approver needs, as Slack mrkdwn: outside text escaped once (the console writes the same lines
    in plain text)."""
    return lines(card_facts.card_lines(job, SLACK))


def _approve_button(job: Job) -> Block:
    # Approve starts the bill, so Slack asks once more (Block Kit "Confirmation dialog object": every part
    # plain_text; title at most 100 characters, text 300, confirm and deny 30).
    return {
        "type": "button",
        "action_id": APPROVE_ACTION,
        "style": "primary",
        "value": job.id,
        "text": {"type": "plain_text", "text": "Approve"},
        "confirm": {
            "title": {"type": "plain_text", "text": f"Approve {job.kind} {job.id}?"},
            "text": {"type": "plain_text", "text": card_facts.approve_confirmation(job)},
            "confirm": {"type": "plain_text", "text": "Approve and create"},
            "deny": {"type": "plain_text", "text": "Not yet"},
            "style": "primary",
        },
    }


def keep_reminder(job: Job, delete_at: datetime, extend_by: str) -> list[Block]:
    """The reminder in the job's thread before its instance is deleted, with the button that keeps it longer."""
    when = slack_date(delete_at)
    return [
        _text(
            mrkdwn(
                "⏰ *{}* is deleted {} ({}), when its keep window ends. {} or an admin can keep it longer, or delete "
                "it now with `/rds-restore delete {}`.",
                job.plan.target_instance_id,
                when,
                render.utc_time(delete_at),
                mention(job.requester),
                job.id,
            )
        ),
        {
            "type": "actions",
            "block_id": f"keep:{job.id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": KEEP_ACTION,
                    "value": job.id,
                    "text": {"type": "plain_text", "text": f"Keep {extend_by} more"},
                }
            ],
        },
    ]


def cleanup_offer(job: Job, text: SlackText) -> list[Block]:
    """A failed or cancelled restore's last message, with the button that deletes what it created (the requester
    or an admin; bot/lifecycle/commands.py says who and what)."""
    return [
        _text(text),
        {
            "type": "actions",
            "block_id": f"cleanup:{job.id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": CLEANUP_ACTION,
                    "value": job.id,
                    "text": {"type": "plain_text", "text": "Clean up"},
                    "confirm": {
                        "title": {"type": "plain_text", "text": "Delete what this restore created?"},
                        "text": {
                            "type": "plain_text",
                            # An instance id is at most 63 characters: well within the dialog's 300.
                            "text": f"{job.plan.target_instance_id} and the groups only it used are deleted, "
                            "with no final snapshot.",
                        },
                        "confirm": {"type": "plain_text", "text": "Clean up"},
                        "deny": {"type": "plain_text", "text": "Keep"},
                    },
                }
            ],
        },
    ]


def approval_card(job: Job, expires: datetime) -> list[Block]:
    """The card in the approvals channel, with Approve (confirmed) / Deny buttons carrying the job id."""
    deadline = card_facts.deadline_line(job, expires, SLACK)
    return [
        {"type": "header", "text": {"type": "plain_text", "text": f"RDS {job.kind} request {job.id}"}},
        _text(card_summary(job)),
        _context(SlackText(deadline)),
        {
            "type": "actions",
            "block_id": f"decide:{job.id}",
            "elements": [
                _approve_button(job),
                {
                    "type": "button",
                    "action_id": DENY_ACTION,
                    "style": "danger",
                    "value": job.id,
                    "text": {"type": "plain_text", "text": "Deny"},
                },
            ],
        },
    ]


def expired_text(expires: datetime) -> SlackText:
    """What an expired card says instead of its buttons."""
    return mrkdwn("⌛ Expired {} with no decision; nothing was created.", slack_date(expires))


def decided_card(job: Job, decision: SlackText) -> list[Block]:
    """The card once decided: the same facts, who decided and when, no buttons."""
    return [
        {"type": "header", "text": {"type": "plain_text", "text": f"RDS {job.kind} request {job.id}"}},
        _text(card_summary(job)),
        _context(decision),
    ]


def deny_reason_view(job_id: str, channel: str, message_ts: str) -> dict[str, Any]:
    """The modal that asks an approver why they deny."""
    return {
        "type": "modal",
        "callback_id": DENY_REASON_VIEW,
        "private_metadata": f"{job_id}|{channel}|{message_ts}",
        "title": {"type": "plain_text", "text": "Deny request"},
        "submit": {"type": "plain_text", "text": "Deny"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": DENY_REASON_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": f"Why deny {job_id}?"},
                "element": {"type": "plain_text_input", "action_id": DENY_REASON_INPUT, "multiline": True},
            }
        ],
    }


def completion_text(job: Job) -> SlackText:
    """The last message in the thread: outcome, endpoint, timings and the audit links (Slack mrkdwn)."""
    return render.completion(job)
