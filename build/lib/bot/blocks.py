"""Block Kit for Slack: the approval card, the decided card, progress and completion. Pure dicts, no Slack SDK."""

from __future__ import annotations

from typing import Any

from bot import render
from bot.domain import STAGE_ORDER, Job

Block = dict[str, Any]
APPROVE_ACTION = "rds_restore_approve"
DENY_ACTION = "rds_restore_deny"
DENY_REASON_VIEW = "rds_restore_deny_reason"
DENY_REASON_BLOCK = "reason"
DENY_REASON_INPUT = "reason_input"


def _text(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _size(total_bytes: int) -> str:
    size = float(total_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def _key_lines(job: Job) -> list[str]:
    """Every KMS key the restore will use, in full: an approver must see whose keys they are."""
    plan = job.plan
    keys = [
        ("Backup key (@kms_master_key_arn)", plan.backup_kms_key_arn),
        ("Bucket SSE-KMS key", ", ".join(plan.bucket_kms_key_arns) or None),
    ]
    lines = [f"KMS: {label} {key}" for label, key in keys if key]
    # Storage is always encrypted; without a key of its own, with the account's AWS managed key for RDS.
    return [*lines, f"KMS: Storage key {plan.storage_kms_key_arn or 'aws/rds (the account default)'}"]


def card_summary(job: Job) -> str:
    """The facts an approver needs, as plain text: shared by Slack's card and the console."""
    plan = job.plan
    files = job.outputs.backup_files if job.outputs.backup_files is not None else 1
    size = _size(job.outputs.backup_bytes or 0)
    processor = f", {plan.cores} cores x {plan.threads_per_core or 'default'} threads" if plan.cores else ""
    storage = f"{plan.storage_type} {plan.allocated_storage_gb} GiB" + (f", {plan.iops} IOPS" if plan.iops else "")
    lines = [
        f"Requester: <@{job.requester}>",
        f"Backup: {plan.s3_arn.replace('arn:aws:s3:::', 's3://')} ({files} file(s), {size})",
        f"Target: {plan.target_instance_id} / database {plan.database_name}",
        f"Class: {plan.instance_class}{processor}; storage {storage}; Multi-AZ {'yes' if plan.multi_az else 'no'}",
        f"Region: {plan.region}; engine {plan.edition.value} {plan.major_version} ({plan.license_model})",
        f"Plan: {' → '.join(STAGE_ORDER)}",
    ]
    lines += _key_lines(job)
    lines += [f"⚠ {warning}" for warning in plan.warnings]
    return "\n".join(lines)


def approval_card(job: Job, expires: str) -> list[Block]:
    """The card in the approvals channel, with Approve / Deny buttons carrying the job id."""
    return [
        {"type": "header", "text": {"type": "plain_text", "text": f"RDS restore request {job.id}"}},
        _text(card_summary(job)),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Expires at {expires} if nobody decides."}]},
        {
            "type": "actions",
            "block_id": f"decide:{job.id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": APPROVE_ACTION,
                    "style": "primary",
                    "value": job.id,
                    "text": {"type": "plain_text", "text": "Approve"},
                },
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
