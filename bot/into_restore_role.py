"""--into with a plain backup: can the role the instance's option group names read it?

rds_restore_database reads the .bak as the IAM role of the group's SQLSERVER_BACKUP_RESTORE option, which needs
s3:ListBucket and s3:GetBucketLocation on the bucket, s3:GetObject and s3:GetObjectAttributes on the objects, and
kms:Decrypt and kms:DescribeKey on a key they are encrypted with (AWS guide
"SQLServer.Procedural.Importing.Native.Enabling"). A role that cannot used to pass every check and fail the restore
after approval; so before any card a role rdsbot does not manage is asked of IAM, each file of a multi-file backup and
each step of a chain included: what IAM denies refuses, what a key or bucket policy may grant is a card warning
(bot/option_group_role.py). A role rdsbot manages is not asked: it made it with every bucket of the policy, and
the keys its name follows; one named for other keys gets a card note naming the keys it must decrypt with.
Pure over the ports; bot/into.py decides what a gap means."""

from __future__ import annotations

from bot import names
from bot.aws_values import OptionGroupState
from bot.domain import RestorePlan
from bot.into_tde_role import own_role_name
from bot.option_group_role import NO_ROLE, iam_gaps, unasked_note
from bot.ports import RoleGateway
from bot.role_needs import RESTORE_DECRYPT_ACTIONS, RestoreReadNeeds, managed_role, role_path_and_name

PURPOSE = "read the backup"
PROCEDURE = "rds_restore_database"


def role_gaps(
    plan: RestorePlan,
    group: OptionGroupState,
    roles: RoleGateway,
    roles_path: str,
    object_arns: tuple[str, ...],
    notes: list[str],
) -> tuple[str, ...]:
    """What the group's role lacks to read `object_arns` ("action on resource" each); empty when it has everything,
    when it is rdsbot's, when IAM cannot be asked or only a key or bucket policy may grant the rest (then a note)."""
    role = group.backup_restore_role_arn
    if role is None:
        return (NO_ROLE,)
    keys = plan.role_kms_key_arns
    if managed_role(role, roles_path):
        own = (names.restore_role_name(keys), own_role_name(plan))
        if keys and role_path_and_name(role)[1] not in own:
            # Not rdsbot's role for these keys (an earlier --into copy for others): its grants are not known here.
            notes.append(
                f"{role} (the option group's role) is rdsbot's role for other KMS keys; {PROCEDURE} fails unless it "
                f"may {', '.join(RESTORE_DECRYPT_ACTIONS)} on {', '.join(keys)}"
            )
        return ()
    # The keys rds_restore_database decrypts with: the objects' SSE-KMS keys and a .bak's own @kms_master_key_arn.
    needs = RestoreReadNeeds(object_arns=object_arns, kms_key_arns=keys)
    denied = iam_gaps(roles, role, needs, PURPOSE, PROCEDURE, notes)
    if denied is None:
        notes.append(unasked_note(role, needs, PURPOSE, PROCEDURE))
        return ()
    return denied
