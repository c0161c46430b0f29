"""The restore stages. Each is idempotent: it looks up by deterministic name or tag before creating, and
returns Done or Waiting; the engine persists the outcome before anything else happens. No boto3 here."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from bot import chain_stages, into, into_option_group, names, server_audit, tags, tde_stage
from bot.backup_stages import BACKUP_STAGES
from bot.domain import (
    InstanceState,
    Job,
    JobKind,
    StageName,
)
from bot.errors import StageError
from bot.ports import (
    AuditRoleSpec,
    InstanceSpec,
    NetworkSpec,
    OptionGroupSpec,
    RolePlacement,
    RoleSpec,
)

# Re-exported (the `as` form tells mypy so): callers take the stage vocabulary and preflight from here.
from bot.preflight import Preflight as Preflight, preflight as preflight
from bot.stage_context import (
    Done as Done,
    Gateways as Gateways,
    StageContext as StageContext,
    StepResult as StepResult,
    Waiting as Waiting,
)
from bot.task_wait import ENDED_UNSUCCESSFULLY, wait_for_task
from config.policy_model import Policy

_T = TypeVar("_T")


def _needed(value: _T | None, name: str) -> _T:
    """An earlier stage's output. Stages run in order, so a missing one is a bug: a KeyError, as it always was."""
    if value is None:
        raise KeyError(name)
    return value


def _validate(job: Job, ctx: StageContext) -> StepResult:
    checked = preflight(job.plan, ctx.gateways, ctx.policy)
    job.outputs.backup_files = len(checked.backup.keys)
    job.outputs.backup_bytes = checked.backup.total_bytes
    job.outputs.notes = checked.notes
    if checked.bucket_kms_key_arns != job.plan.bucket_kms_key_arns:
        # The approver saw the keys on the card, and the role is granted exactly those.
        raise StageError(
            f"the backup's SSE-KMS key is now {', '.join(checked.bucket_kms_key_arns) or 'none'}, not "
            f"{', '.join(job.plan.bucket_kms_key_arns) or 'none'} as when it was requested; request the restore again"
        )
    into.check_approved_change(job.plan, checked.plan_updates.get("into"))
    thumbprint = checked.plan_updates["tde"].thumbprint if "tde" in checked.plan_updates else None
    if job.plan.tde and job.plan.tde.thumbprint and thumbprint != job.plan.tde.thumbprint:
        raise StageError(
            f"the TDE certificate file now has thumbprint {thumbprint}, not {job.plan.tde.thumbprint} as when it was "
            "requested; request the restore again"
        )
    size_gib = checked.backup.total_bytes / 2**30
    return Done(f"{len(checked.backup.keys)} file(s), {size_gib:.2f} GiB; " + "; ".join(checked.notes))


def _network(job: Job, ctx: StageContext) -> StepResult:
    net = ctx.policy.network
    placement = ctx.gateways.network.ensure_placement(
        NetworkSpec(
            vpc_id=net.vpc_id,
            subnet_ids=net.subnet_ids,
            bot_sources=net.bot_sources,
            allowed_source_security_groups=net.allowed_source_security_groups,
            allowed_cidrs=net.allowed_cidrs,
        )
    )
    job.outputs.vpc_id = placement.vpc_id
    job.outputs.subnet_group = placement.subnet_group_name
    job.outputs.security_group_id = placement.security_group_id
    if "subnet_group" in placement.created:
        job.created_resources["subnet_group"] = placement.subnet_group_name
    if "security_group" in placement.created:
        job.created_resources["security_group"] = placement.security_group_id
    return Done(f"{placement.vpc_id}, subnet group {placement.subnet_group_name}, {placement.security_group_id}")


def _role_placement(policy: Policy) -> RolePlacement:
    return RolePlacement(path=policy.roles.path, permissions_boundary_arn=policy.roles.permissions_boundary_arn)


def _audit_role(ctx: StageContext) -> str | None:
    """The SQLSERVER_AUDIT role's ARN, or None when the policy names no audit bucket."""
    audit = ctx.policy.audit
    if not audit.bucket:
        return None
    return ctx.gateways.roles.ensure_audit_role(
        AuditRoleSpec(
            role_name=names.AUDIT_ROLE_NAME,
            bucket=audit.bucket,
            key_prefix=names.sqlserver_audit_prefix(audit.prefix),
            placement=_role_placement(ctx.policy),
        )
    )


def _ensure_restore_role(job: Job, ctx: StageContext) -> str:
    plan = job.plan
    job.outputs.role_arn = ctx.gateways.roles.ensure_restore_role(
        RoleSpec(
            role_name=names.restore_role_name(plan.role_kms_key_arns, tde=plan.tde is not None),
            backup_buckets=ctx.policy.backups.buckets,
            kms_key_arns=plan.role_kms_key_arns,
            placement=_role_placement(ctx.policy),
            tde=plan.tde is not None,
        )
    )
    return job.outputs.role_arn


def _restore_role(job: Job, ctx: StageContext) -> StepResult:
    role_arn = _ensure_restore_role(job, ctx)
    job.outputs.audit_role_arn = _audit_role(ctx)
    return Done(role_arn)


def _into_restore_role(job: Job, ctx: StageContext) -> StepResult:
    """--into with a new option group: the restore role its SQLSERVER_BACKUP_RESTORE names; no audit role, since
    the copy adds no SQLSERVER_AUDIT."""
    return Done(f"{_ensure_restore_role(job, ctx)} (for {job.plan.target_instance_id}'s new option group)")


def _option_group(job: Job, ctx: StageContext) -> StepResult:
    plan, audit = job.plan, ctx.policy.audit
    audit_prefix = names.sqlserver_audit_prefix(audit.prefix)
    # A job that passed the role stage before the audit role existed (an upgrade) ensures it here.
    audit_role_arn = job.outputs.audit_role_arn or _audit_role(ctx)
    group = ctx.gateways.option_groups.ensure_option_group(
        OptionGroupSpec(
            name=names.option_group_name(
                plan.edition.short, plan.major_version, plan.role_kms_key_arns, tde=plan.tde is not None
            ),
            engine=plan.edition.value,
            major_version=plan.major_version,
            role_arn=_needed(job.outputs.role_arn, "role_arn"),
            audit_s3_bucket_arn=f"arn:aws:s3:::{audit.bucket}/{audit_prefix}" if audit.bucket else None,
            audit_role_arn=audit_role_arn,
            audit_retention_hours=audit.retention_hours,
            audit_compression=audit.compression,
            tde=plan.tde is not None,
        )
    )
    job.outputs.option_group = group.name
    if group.created:
        job.created_resources["option_group"] = group.name
    return Done(group.name)


def _instance_state(job: Job, ctx: StageContext) -> InstanceState | None:
    instance_id = job.plan.target_instance_id
    if instance_id in ctx.instance_states:
        return ctx.instance_states[instance_id]
    return ctx.gateways.instances.find(instance_id)


def _existing_instance(job: Job, ctx: StageContext) -> StepResult:
    """--into: the instance is only read, never created nor listed among what the job created."""
    state = _ready_instance(job, ctx)
    job.outputs.instance_arn = state.arn
    if not state.ready:
        return Waiting(f"instance {state.status}, option group {state.option_group_status or 'pending'}")
    job.outputs.endpoint = f"{state.endpoint_address}:{state.endpoint_port}"
    allowed = job.plan.into.allowed_by if job.plan.into else ""
    return Done(f"{state.instance_id} reused ({allowed}) at {job.outputs.endpoint}; nothing created")


def _instance(job: Job, ctx: StageContext) -> StepResult:
    plan = job.plan
    if plan.into is not None:
        return _existing_instance(job, ctx)
    state = _instance_state(job, ctx)
    if state is None:
        state = ctx.gateways.instances.create(
            InstanceSpec(
                instance_id=plan.target_instance_id,
                instance_class=plan.instance_class,
                engine=plan.edition.value,
                engine_version=plan.engine_version or plan.major_version,  # see bot/preflight.py
                license_model=plan.license_model,
                storage_type=plan.storage_type.value,
                allocated_storage_gb=plan.allocated_storage_gb,
                iops=plan.iops,
                storage_throughput=plan.storage_throughput,
                cores=plan.cores,
                threads_per_core=plan.threads_per_core,
                multi_az=plan.multi_az,
                kms_key_id=plan.storage_kms_key_arn,
                subnet_group_name=_needed(job.outputs.subnet_group, "subnet_group"),
                security_group_ids=(_needed(job.outputs.security_group_id, "security_group_id"),),
                option_group_name=_needed(job.outputs.option_group, "option_group"),
                master_username=ctx.policy.engine.master_username,
                tags=tags.instance_tags(job.id, job.requester, job.is_drill),
            )
        )
        job.created_resources["instance"] = plan.target_instance_id
    elif not tags.made_by_job(state.tags, job.id):
        raise StageError(f"{tags.not_made_by_job(plan.target_instance_id, job.id)}; choose another --name")
    else:
        # Found by its job tag after a restart: ours, whether or not the create was recorded before a crash.
        job.created_resources["instance"] = plan.target_instance_id
    job.outputs.instance_arn = state.arn
    if not state.ready:
        return Waiting(f"instance {state.status}, option group {state.option_group_status or 'pending'}")
    job.outputs.endpoint = f"{state.endpoint_address}:{state.endpoint_port}"
    return Done(f"{plan.target_instance_id} available at {job.outputs.endpoint}")


def _ready_instance(job: Job, ctx: StageContext) -> InstanceState:
    state = _instance_state(job, ctx)
    if state is None:
        raise StageError(f"instance {job.plan.target_instance_id} disappeared; it was deleted outside rdsbot")
    return state


def _restore_start(job: Job, ctx: StageContext) -> StepResult:
    plan = job.plan
    state = _ready_instance(job, ctx)
    native = ctx.gateways.native_restore
    if plan.into is not None and job.outputs.task_floor is None:
        # Saved before anything is sent: a resumed job then tells its own task from an earlier restore into this
        # name, which an existing instance's task history (36 days) may well hold, finished or not.
        floor = max((task.task_id for task in native.tasks_for(state, plan.database_name)), default=0)
        job.outputs.task_floor = floor
        return Waiting(f"{plan.database_name}'s tasks up to {floor} are earlier restores'; this job's follow")
    certificate = tde_stage.ensure_certificate(plan, state, native)
    if plan.chain is not None:
        clear = (lambda: into.clear_the_way(plan, state, native)) if plan.into is not None else None
        return Done(certificate + chain_stages.send_step(job, state, native, 0, before_sending=clear))
    # A task started before a crash is found, not started again: on an --into instance only one after the floor,
    # which is ours even if it has already succeeded (dropping and restoring again would redo the whole restore).
    existing = native.find_task(state, plan.database_name)
    floor = job.outputs.task_floor or 0
    if existing is not None and existing.task_id > floor and existing.lifecycle not in ENDED_UNSUCCESSFULLY:
        job.outputs.task_id = existing.task_id
        return Done(f"{certificate}task {existing.task_id} already sent for {plan.database_name}")
    dropped = into.clear_the_way(plan, state, native) if plan.into is not None else ""
    task_id = native.start_restore(state, plan.database_name, plan.s3_arn, plan.backup_kms_key_arn)
    job.outputs.task_id = task_id
    return Done(f"{certificate}{dropped}rds_restore_database task {task_id}: {plan.s3_arn} -> {plan.database_name}")


def _restore_wait(job: Job, ctx: StageContext) -> StepResult:
    state = _ready_instance(job, ctx)
    if job.plan.chain is not None:
        progress = chain_stages.wait_step(job, state, ctx.gateways.native_restore)
        return Done(progress.detail) if progress.finished else Waiting(progress.detail, progress.percent)
    return wait_for_task(job, state, ctx.gateways.native_restore, "restore")


def _finalize(job: Job, ctx: StageContext) -> StepResult:
    plan, audit = job.plan, ctx.policy.audit
    job.outputs.console_url = (
        f"https://console.aws.amazon.com/rds/home?region={plan.region}"
        f"#database:id={plan.target_instance_id};is-cluster=false"
    )
    detail = f"{plan.database_name} restored on {job.outputs.endpoint}"
    if audit.bucket and plan.into is not None and not tags.made_by_rdsbot(_ready_instance(job, ctx).tags):
        # A server audit is instance-wide and outlives the restore: on an instance rdsbot did not make, creating
        # one would change its owner's auditing, so rdsbot leaves it alone and says so.
        job.outputs.server_audit_skipped = (
            f"not switched on: {plan.target_instance_id} was not made by rdsbot (no {tags.MANAGED_BY} tag), "
            "so its server audits are its owner's"
        )
        detail += f"; SQL Server Audit {job.outputs.server_audit_skipped}"
    elif audit.bucket:
        # SQLSERVER_AUDIT ships only what a server audit writes: without one the linked folder stays empty.
        started = ctx.gateways.server_audit.ensure_server_audit(_ready_instance(job, ctx), audit.server_audit.spec())
        job.outputs.sqlserver_audit_url = ctx.gateways.backups.console_url(
            audit.bucket,
            f"{names.sqlserver_audit_prefix(audit.prefix)}/{plan.target_instance_id}/{started.audit_name}/",
        )
        job.outputs.sqlserver_audit_extension = server_audit.audit_file_extension(audit.compression)
        detail += f"; server audit {started.audit_name} {started.status}"
    return Done(detail)


_Stage = Callable[[Job, StageContext], StepResult]


def _unless_into(stage: _Stage, reused: str, option_group_change: _Stage | None = None) -> _Stage:
    """A creating stage an --into job skips (the existing instance has its own; the detail records the reuse),
    unless the job gives the instance a new option group and the stage has a part in it."""

    def run(job: Job, ctx: StageContext) -> StepResult:
        into = job.plan.into
        if into is None:
            return stage(job, ctx)
        if option_group_change is not None and into.new_option_group is not None:
            return option_group_change(job, ctx)
        return Done(f"skipped: --into reuses {job.plan.target_instance_id}'s {reused}; nothing created")

    return run


STAGES: dict[StageName, Callable[[Job, StageContext], StepResult]] = {
    StageName.VALIDATE: _validate,
    StageName.NETWORK: _unless_into(_network, "subnet group and security groups"),
    StageName.RESTORE_ROLE: _unless_into(_restore_role, "option group's restore role", _into_restore_role),
    StageName.OPTION_GROUP: _unless_into(_option_group, "option group", into_option_group.apply_new_option_group),
    StageName.INSTANCE: _instance,
    StageName.RESTORE_START: _restore_start,
    StageName.RESTORE_WAIT: _restore_wait,
    StageName.FINALIZE: _finalize,
}

# Stages that read the instance: the engine describes all such jobs' instances in one call per tick.
INSTANCE_STAGES = {
    StageName.INSTANCE,
    StageName.RESTORE_START,
    StageName.RESTORE_WAIT,
    StageName.BACKUP_START,
    StageName.BACKUP_WAIT,
    StageName.FINALIZE,
}


def stage_table(job: Job) -> dict[StageName, Callable[[Job, StageContext], StepResult]]:
    """The stage functions of the job's kind."""
    return BACKUP_STAGES if job.kind == JobKind.BACKUP else STAGES
