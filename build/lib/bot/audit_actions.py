"""Every audit action rdsbot records, spelled once. Pure.

The values are the schema of the audit trail: they are hashed into each day's chain and shipped to S3, so a value
never changes once released (`rdsbot audit verify` must still verify the days already shipped). Add members; do
not rename them.
"""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    """What an audit event records; a StrEnum, so it is stored, hashed and shipped as its plain string value."""

    # A restore job's life, written by the request service, the approvals and the engine.
    JOB_REQUESTED = "job.requested"
    JOB_APPROVED = "job.approved"
    JOB_DENIED = "job.denied"
    JOB_STARTED = "job.started"
    JOB_SUCCEEDED = "job.succeeded"
    JOB_FAILED = "job.failed"
    JOB_CANCEL_REQUESTED = "job.cancel_requested"
    JOB_CANCELLED = "job.cancelled"
    STAGE_STARTED = "stage.started"
    STAGE_SUCCEEDED = "stage.succeeded"
    RESTORE_TASK_CANCEL_SENT = "restore_task.cancel_sent"

    # Requests and clicks that changed nothing, and why.
    REQUEST_REFUSED = "request.refused"
    CANCEL_REFUSED = "cancel.refused"
    APPROVAL_REFUSED = "approval.refused"
    APPROVAL_EXPIRED = "approval.expired"
    APPROVAL_IGNORED = "approval.ignored"
    APPROVAL_UNKNOWN_JOB = "approval.unknown_job"

    # Restore drills.
    DRILL_STARTED = "drill.started"
    DRILL_SKIPPED = "drill.skipped"
    DRILL_REFUSED = "drill.refused"
    DRILL_PASSED = "drill.passed"
    DRILL_FAILED = "drill.failed"
    DRILL_CLEANED_UP = "drill.cleaned_up"
    DRILL_SWEPT = "drill.swept"

    @classmethod
    def decision(cls, approve: bool) -> AuditAction:
        """What an approver's click records: approved or denied."""
        return cls.JOB_APPROVED if approve else cls.JOB_DENIED
