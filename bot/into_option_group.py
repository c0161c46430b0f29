"""--into with a new option group (targets.allow_option_group_change): the instance's option group lacks
SQLSERVER_BACKUP_RESTORE, so the option_group stage creates a copy of it with that option and the restore role, and
applies it with ModifyDBInstance (OptionGroupName, ApplyImmediately), then waits until the instance is available and
the group in-sync. RDS cannot modify a default option group, and changing a shared one would change every instance
using it: hence a copy (AWS guide "USER_WorkingWithOptionGroups"; the option and its IAM_ROLE_ARN:
"SQLServer.Procedural.Importing.Native.Enabling"; the parameters: API reference "API_ModifyDBInstance").

The only change an --into job makes to the instance, and never undone by rdsbot (no rollback or cleanup touches an
--into instance): the previous group is kept in the job, the stage's audit event and the completion message, with
the command that puts it back. Pure over the ports."""

from __future__ import annotations

from bot.domain import Job
from bot.errors import StageError
from bot.into import BACKUP_RESTORE_OPTION
from bot.into_target import IntoTarget
from bot.ports import OptionGroupCopySpec
from bot.stage_context import Done, StageContext, StepResult, Waiting


def put_back_command(instance_id: str, previous: str | None) -> str:
    """The one command an operator runs to give the instance its previous option group again."""
    return (
        f"aws rds modify-db-instance --db-instance-identifier {instance_id} "
        f"--option-group-name {previous or '<its previous group>'} --apply-immediately"
    )


def change_summary(instance_id: str, into: IntoTarget, role_name: str) -> str:
    """What rdsbot will do, in the words the card and the stage use."""
    copied = ", ".join(into.copied_options) or "none"
    group = into.option_group or "(none)"
    if into.replaced_role_lacks:
        # A TDE restore whose group's role cannot import the certificate (bot/into_tde_role.py).
        reason = (
            f"{group}'s {BACKUP_RESTORE_OPTION} runs as {into.replaced_role_arn or 'no IAM role'}, which cannot import "
            f"the TDE certificate (it lacks {'; '.join(into.replaced_role_lacks)})"
        )
    else:
        reason = f"{group} lacks {BACKUP_RESTORE_OPTION}"
    return (
        f"{reason}: rdsbot creates option group "
        f"{into.new_option_group} (a copy of {into.option_group or 'no group'}'s options [{copied}] plus "
        f"{BACKUP_RESTORE_OPTION} with IAM role {role_name}) and applies it to {instance_id} with ModifyDBInstance "
        f"(ApplyImmediately; no reboot). rdsbot never puts the old group back; the job records it"
    )


def apply_new_option_group(job: Job, ctx: StageContext) -> StepResult:
    """Create the copy, apply it, wait for in-sync. Each tick reads the instance first, so a bot that died after
    ModifyDBInstance finds the new group applying and only waits."""
    plan = job.plan
    into = plan.into or IntoTarget()
    new, previous, instance_id = into.new_option_group, into.option_group, plan.target_instance_id
    if new is None or job.outputs.role_arn is None:
        raise KeyError("new_option_group" if new is None else "role_arn")  # a bug, as a missing output always is
    state = ctx.gateways.instances.find(instance_id)
    if state is None:
        raise StageError(f"instance {instance_id} disappeared; it was deleted outside rdsbot")
    if state.option_group_name == new:
        job.outputs.previous_option_group = previous
        if not state.ready:
            return Waiting(f"{instance_id} {state.status}, option group {new} {state.option_group_status or 'pending'}")
        job.outputs.option_group = new
        return Done(
            f"{new} applied to {instance_id} (a copy of {previous}'s options plus {BACKUP_RESTORE_OPTION}); "
            f"previous option group {previous}, put back with: {put_back_command(instance_id, previous)}"
        )
    if state.option_group_name != previous:
        raise StageError(
            f"{instance_id}'s option group is now {state.option_group_name}, not {previous} as when requested; "
            "nothing was changed. Request the restore again"
        )
    if state.status != "available":
        return Waiting(f"{instance_id} is {state.status}; its option group is changed once it is available")
    role_arn = job.outputs.role_arn
    spec = OptionGroupCopySpec(
        name=new, source=previous, engine=plan.edition.value, major_version=plan.major_version, role_arn=role_arn
    )
    ctx.gateways.option_groups.ensure_copy(spec)
    job.outputs.previous_option_group = previous  # saved with the Waiting below, or found again after a crash
    ctx.gateways.instances.apply_option_group(instance_id, new)
    return Waiting(f"applying option group {new} to {instance_id} (was {previous})")
