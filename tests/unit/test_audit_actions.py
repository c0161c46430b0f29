"""The audit action strings are the schema of the shipped trail: a renamed action must fail here first."""

from __future__ import annotations

import json

from bot.audit_actions import AuditAction
from bot.domain import AuditAction as ReExported, AuditEvent

# Written out by hand, never derived from the enum: these strings are hashed into days already shipped to S3.
GOLDEN = [
    "job.requested",
    "job.approved",
    "job.denied",
    "job.started",
    "job.succeeded",
    "job.failed",
    "job.cancel_requested",
    "job.cancelled",
    "stage.started",
    "stage.succeeded",
    "restore_task.cancel_sent",
    "request.refused",
    "cancel.refused",
    "approval.refused",
    "approval.expired",
    "approval.ignored",
    "approval.unknown_job",
    "approval.first_of_two",
    "drill.started",
    "drill.skipped",
    "drill.refused",
    "drill.passed",
    "drill.failed",
    "drill.cleaned_up",
    "drill.swept",
    "instance.reminded",
    "instance.keep_extended",
    "instance.keep_refused",
    "instance.delete_requested",
    "instance.delete_refused",
    "instance.delete_started",
    "instance.deleted",
    "instance.left_alone",
    "audit.object_conflict",
    "backup.requested",
    "backup.approved",
    "backup.denied",
    "backup.started",
    "backup.completed",
    "backup.failed",
]


def test_every_audit_action_keeps_its_string() -> None:
    assert [action.value for action in AuditAction] == GOLDEN
    assert ReExported is AuditAction


def test_an_event_read_back_from_its_string_is_typed_and_serialises_as_the_same_string() -> None:
    event = AuditEvent.model_validate({"at": "2026-11-25T09:00:00Z", "actor": "U0BOB", "action": "job.approved"})
    assert event.action is AuditAction.JOB_APPROVED
    assert json.loads(event.model_dump_json())["action"] == "job.approved"
    assert json.dumps({"action": event.action}) == '{"action": "job.approved"}'
    assert f"{event.action}" == "job.approved"


def test_the_approval_click_records_approved_or_denied() -> None:
    assert (AuditAction.decision(approve=True), AuditAction.decision(approve=False)) == ("job.approved", "job.denied")
