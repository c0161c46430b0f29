"""The stages of a /rds-backup job: validate -> backup_start -> backup_wait -> finalize. Each is idempotent: a
crash after rds_backup_database was sent finds the task in rds_task_status instead of sending it again. No boto3."""

from __future__ import annotations

from collections.abc import Callable

from bot.backup_checks import backup_grant, check_backup
from bot.backup_target import BackupTarget
from bot.domain import InstanceState, Job, StageName, TaskStatus
from bot.errors import RequestError, StageError
from bot.role_needs import managed_role
from bot.stage_context import Done, StageContext, StepResult, Waiting
from bot.task_wait import ENDED_UNSUCCESSFULLY, wait_for_task


def _target(job: Job) -> BackupTarget:
    if job.plan.backup is None:
        raise StageError("not a backup job")
    return job.plan.backup


def _instance(job: Job, ctx: StageContext) -> InstanceState:
    instance_id = job.plan.target_instance_id
    state = ctx.instance_states.get(instance_id) or ctx.gateways.instances.find(instance_id)
    if state is None:
        raise StageError(f"instance {instance_id} disappeared")
    return state


def _validate(job: Job, ctx: StageContext) -> StepResult:
    """The request-time checks once more, now that an admin approved: the database may have gone, the object
    appeared. The backup tasks RDS lists now are remembered: any later one to this ARN is this job's."""
    target = _target(job)
    try:
        checked = check_backup(job.plan, ctx.gateways, ctx.policy)
    except RequestError as exc:
        raise StageError(f"{exc}; nothing was changed") from None
    now = checked.target.overwrites
    if now != target.overwrites:
        raise StageError(
            f"the destination now holds {', '.join(now) or 'nothing'}, not {', '.join(target.overwrites) or 'nothing'}"
            " as when it was approved; request the backup again"
        )
    tasks = ctx.gateways.native_restore.tasks_for(checked.state, job.plan.database_name)
    job.outputs.prior_backup_tasks = tuple(t.task_id for t in tasks if _is_backup_to(t, target))
    return Done(f"{job.plan.database_name} ONLINE on {job.plan.target_instance_id}; writes {target.url}")


def _is_backup_to(task: TaskStatus, target: BackupTarget) -> bool:
    return task.task_type.startswith("BACKUP_DB") and task.s3_object_arn == target.s3_arn


def _start(job: Job, ctx: StageContext) -> StepResult:
    target = _target(job)
    state = _instance(job, ctx)
    if not state.ready:
        return Waiting(f"instance {state.status}, option group {state.option_group_status or 'pending'}")
    native = ctx.gateways.native_restore
    prior = set(job.outputs.prior_backup_tasks or ())
    sent = [
        t
        for t in native.tasks_for(state, job.plan.database_name)
        if _is_backup_to(t, target) and t.task_id not in prior and t.lifecycle not in ENDED_UNSUCCESSFULLY
    ]
    if sent:
        job.outputs.task_id = sent[-1].task_id
        return Done(f"task {sent[-1].task_id} already sent for {target.url}; not sent again")
    role = target.role_arn
    granted = ""
    if role and managed_role(role, ctx.policy.roles.path):
        ctx.gateways.roles.grant_backup_writes(role, backup_grant(job.plan))
        granted = f"{role} may write {target.url}; "
    task_id = native.start_backup(state, job.plan.database_name, target, job.plan.backup_kms_key_arn)
    job.outputs.task_id = task_id
    return Done(f"{granted}rds_backup_database task {task_id}: {job.plan.database_name} -> {target.url}")


def _wait(job: Job, ctx: StageContext) -> StepResult:
    return wait_for_task(job, _instance(job, ctx), ctx.gateways.native_restore, "backup")


def _finalize(job: Job, ctx: StageContext) -> StepResult:
    """Read the object(s) back: the completion message and the audit carry each link and the size."""
    target = _target(job)
    found = ctx.gateways.backups.existing_objects(target.bucket, target.object_keys())
    missing = [key for key in target.object_keys() if key not in found]
    if missing:
        raise StageError(f"the task succeeded but s3://{target.bucket}/{missing[0]} is not there")
    job.outputs.backup_objects = tuple(f"s3://{target.bucket}/{key}" for key in target.object_keys())
    job.outputs.backup_files = len(found)
    job.outputs.backup_bytes = sum(found.values())
    job.outputs.console_url = ctx.gateways.backups.console_url(target.bucket, target.key.split("*", 1)[0])
    return Done(f"{len(found)} object(s), {sum(found.values())} bytes at {target.url}")


BACKUP_STAGES: dict[StageName, Callable[[Job, StageContext], StepResult]] = {
    StageName.VALIDATE: _validate,
    StageName.BACKUP_START: _start,
    StageName.BACKUP_WAIT: _wait,
    StageName.FINALIZE: _finalize,
}
