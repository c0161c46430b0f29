"""The TDE certificate inside restore_start: imported once, before the first restore statement.

rds_restore_tde_certificate answers at once; it is no task (the AWS guide "TDE.BackupRestoreRDS" gives it no
task id and rds_task_status no task type for it), and RDS refuses a second certificate of the same name. So before
sending it the instance's user certificates are listed (msdb.dbo.rds_fn_list_user_tde_certificates(), same guide,
"Viewing restored TDE certificates"): a bot that died after importing it finds it there and never sends it twice.
"""

from __future__ import annotations

from bot.domain import InstanceState, RestorePlan
from bot.ports import NativeRestore


def ensure_certificate(plan: RestorePlan, instance: InstanceState, native: NativeRestore) -> str:
    """Import the plan's TDE certificate unless the instance holds it; say which happened ("" without TDE)."""
    certificate = plan.tde
    if certificate is None:
        return ""
    held = native.user_tde_certificates(instance)
    if certificate.certificate_name in held:
        return f"TDE certificate {certificate.certificate_name} found, not restored again; "
    same = next((name for name, print_ in held.items() if print_ and print_ == certificate.thumbprint), None)
    if same is not None:
        # SQL Server refuses a second copy of a certificate (message 15232); the one there serves (guide
        # "TDE.BackupRestoreRDS": "You don't have to import (restore) the same certificate again").
        return f"TDE certificate {certificate.thumbprint} already held as {same}, not restored again; "
    native.restore_tde_certificate(instance, certificate)
    return f"TDE certificate {certificate.certificate_name} restored from {certificate.certificate_s3_arn}; "
