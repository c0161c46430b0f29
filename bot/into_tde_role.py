"""--into with a TDE backup: can the role the instance's option group names import the certificate?

rds_restore_tde_certificate runs as the IAM role of the group's SQLSERVER_BACKUP_RESTORE option: RDS reads the .cer
and the .pvk from S3 with it and decrypts the .pvk's password with the password key, and the role needs
s3:GetBucketAcl and s3:ListAllMyBuckets besides native restore's reads (AWS guide "TDE.BackupRestoreRDS",
prerequisites). A role that cannot would fail the import after approval; so before any card rdsbot's own `-tde`
role for the plan's keys is recognised by name, and any other role is asked of IAM (iam:SimulatePrincipalPolicy):
only what IAM denies is a gap; what a key or bucket policy may grant is a warning (bot/role_evaluation.py).
Pure over the ports; bot/into.py decides what a gap means (refuse, or a new option group)."""

from __future__ import annotations

from bot import names
from bot.aws_values import OptionGroupState
from bot.domain import RestorePlan
from bot.option_group_role import NO_ROLE, iam_gaps, unasked_note
from bot.ports import RoleGateway
from bot.role_needs import TDE_ACCOUNT_ACTIONS, TDE_BUCKET_ACTIONS, TdeImportNeeds, managed_role, role_path_and_name

PURPOSE = "import the TDE certificate"
PROCEDURE = "rds_restore_tde_certificate"


def own_role_name(plan: RestorePlan) -> str:
    """The `-tde` role rdsbot makes for this plan's keys: the one a copy of the group would name."""
    return names.restore_role_name(plan.role_kms_key_arns, tde=True)


def import_needs(plan: RestorePlan, file_kms_key_arns: tuple[str, ...]) -> TdeImportNeeds:
    if plan.tde is None:
        raise ValueError("import_needs needs a TDE plan")
    return TdeImportNeeds(
        certificate_s3_arn=plan.tde.certificate_s3_arn,
        private_key_s3_arn=plan.tde.private_key_s3_arn,
        password_key_arn=plan.tde.password_key_arn,
        file_kms_key_arns=file_kms_key_arns,
    )


def role_gaps(
    plan: RestorePlan,
    group: OptionGroupState,
    roles: RoleGateway,
    roles_path: str,
    file_kms_key_arns: tuple[str, ...],
    notes: list[str],
) -> tuple[str, ...]:
    """What the group's role lacks to import plan.tde's certificate ("action on resource" each); empty when it has
    everything, when IAM cannot be asked, or when only a key or bucket policy may grant the rest (then a note for the
    card says what rdsbot could not confirm)."""
    role = group.backup_restore_role_arn
    if role is None:
        return (NO_ROLE,)
    ours = managed_role(role, roles_path)
    name = role_path_and_name(role)[1]
    if ours and name == own_role_name(plan):
        return ()  # made by rdsbot for exactly these keys, with the TDE grants (aws/iam.py)
    needs = import_needs(plan, file_kms_key_arns)
    # e.g. kms:Decrypt granted in the password key's policy, as the TDE guide has it: a warning, never a refusal.
    denied = iam_gaps(roles, role, needs, PURPOSE, PROCEDURE, notes)
    if denied is not None:
        return denied
    if ours and not name.endswith("-tde"):
        # rdsbot grants these only to its -tde roles (aws/iam.py), so its plain restore role surely lacks them.
        return tuple(
            f"{action} (rdsbot grants it only to its -tde roles)" for action in TDE_BUCKET_ACTIONS + TDE_ACCOUNT_ACTIONS
        )
    notes.append(unasked_note(role, needs, PURPOSE, PROCEDURE))
    return ()
