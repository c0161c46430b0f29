"""Block Kit for Slack: the approval card, the decided card, progress and completion. Pure dicts, no Slack SDK."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot import card_facts, render
from bot.domain import Job

Block = dict[str, Any]
APPROVE_ACTION = "rds_restore_approve"
DENY_ACTION = "rds_restore_deny"
DENY_REASON_VIEW = "rds_restore_deny_reason"
DENY_REASON_BLOCK = "reason"
DENY_REASON_INPUT = "reason_input"


def _text(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


class SlackStyle:
    """Slack mrkdwn: times as date tokens each reader sees in their own time zone, users as mentions, user text
    escaped."""

    def time(self, at: datetime) -> str:
        return slack_date(at)

    def user(self, user_id: str) -> str:
        return f"<@{user_id}>"

    def text(self, user_text: str) -> str:
        return render.escape_slack(user_text)


SLACK = SlackStyle()


def slack_date(at: datetime) -> str:
    """A date token (Slack doc "Formatting text for app surfaces", dates): Slack shows `Today 10:00 AM` in the
    reader's own zone and format; clients that cannot, show the UTC fallback after the `|`."""
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{render.utc_time(at)}>"


def card_summary(job: Job) -> str:
    """The facts an approver needs, as Slack mrkdwn (the console writes the same lines in plain text)."""
    return "\n".join(card_facts.card_lines(job, SLACK))


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
            "title": {"type": "plain_text", "text": f"Approve restore {job.id}?"},
            "text": {"type": "plain_text", "text": card_facts.approve_confirmation(job)},
            "confirm": {"type": "plain_text", "text": "Approve and create"},
            "deny": {"type": "plain_text", "text": "Not yet"},
            "style": "primary",
        },
    }


def approval_card(job: Job, expires: datetime) -> list[Block]:
    """The card in the approvals channel, with Approve (confirmed) / Deny buttons carrying the job id."""
    deadline = card_facts.deadline_line(job, expires, SLACK)
    return [
        {"type": "header", "text": {"type": "plain_text", "text": f"RDS restore request {job.id}"}},
        _text(card_summary(job)),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": deadline}]},
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


def expired_text(expires: datetime) -> str:
    """What an expired card says instead of its buttons."""
    return f"⌛ Expired {slack_date(expires)} with no decision; nothing was created."


def decided_card(job: Job, decision: str) -> list[Block]:
    """The card once decided: the same facts, who decided and when, no buttons."""
    return [
        {"type": "header", "text": {"type": "plain_text", "text": f"RDS restore request {job.id}"}},
        _text(card_summary(job)),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": decision}]},
    ]


def deny_reason_view(job_id: str, channel: str, message_ts: str) -> dict[str, Any]:
    """The modal that asks an approver why they deny."""
    return {
        "type": "modal",
        "callback_id": DENY_REASON_VIEW,
        "private_metadata": f"{job_id}|{channel}|{message_ts}",
        "title": {"type": "plain_text", "text": "Deny restore"},
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


def completion_text(job: Job) -> str:
    """The last message in the thread: outcome, endpoint, timings and the audit links (Slack mrkdwn)."""
    return render.completion(job)
