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
    # The first of two approvals an --into --replace needs (approvals.replace_approvers): the job still waits.
    APPROVAL_FIRST_OF_TWO = "approval.first_of_two"

    # Restore drills.
    DRILL_STARTED = "drill.started"
    DRILL_SKIPPED = "drill.skipped"
    DRILL_REFUSED = "drill.refused"
    DRILL_PASSED = "drill.passed"
    DRILL_FAILED = "drill.failed"
    DRILL_CLEANED_UP = "drill.cleaned_up"
    DRILL_SWEPT = "drill.swept"

    # A restored instance's life after its job (bot/lifecycle/): reminded, kept longer, deleted.
    INSTANCE_REMINDED = "instance.reminded"
    INSTANCE_KEEP_EXTENDED = "instance.keep_extended"
    INSTANCE_KEEP_REFUSED = "instance.keep_refused"
    INSTANCE_DELETE_REQUESTED = "instance.delete_requested"
    INSTANCE_DELETE_REFUSED = "instance.delete_refused"
    INSTANCE_DELETE_STARTED = "instance.delete_started"
    INSTANCE_DELETED = "instance.deleted"
    INSTANCE_LEFT_ALONE = "instance.left_alone"  # tagged as another job's, or not rdsbot's: never deleted
    # The trail itself: an S3 key it was about to write already held other bytes (nothing was overwritten).
    AUDIT_OBJECT_CONFLICT = "audit.object_conflict"

    # A /rds-backup job's life (the same service, approvals and engine; stages and cancels as above).
    BACKUP_REQUESTED = "backup.requested"
    BACKUP_APPROVED = "backup.approved"
    BACKUP_DENIED = "backup.denied"
    BACKUP_STARTED = "backup.started"
    BACKUP_COMPLETED = "backup.completed"
    BACKUP_FAILED = "backup.failed"

    @classmethod
    def decision(cls, approve: bool) -> AuditAction:
        """What an approver's click records: approved or denied."""
        return cls.JOB_APPROVED if approve else cls.JOB_DENIED

    def of_backup(self, backup: bool) -> AuditAction:
        """This job action as a backup job records it (backup.requested ...); itself for a restore or another."""
        return _BACKUP_ACTIONS.get(self, self) if backup else self


_BACKUP_ACTIONS = {
    AuditAction.JOB_REQUESTED: AuditAction.BACKUP_REQUESTED,
    AuditAction.JOB_APPROVED: AuditAction.BACKUP_APPROVED,
    AuditAction.JOB_DENIED: AuditAction.BACKUP_DENIED,
    AuditAction.JOB_STARTED: AuditAction.BACKUP_STARTED,
    AuditAction.JOB_SUCCEEDED: AuditAction.BACKUP_COMPLETED,
    AuditAction.JOB_FAILED: AuditAction.BACKUP_FAILED,
}
