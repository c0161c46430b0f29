"""The restore stages. Each is idempotent: it looks up by deterministic name or tag before creating, and
returns Done or Waiting; the engine persists the outcome before anything else happens. No boto3 here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bot import chain_stages, instance_classes, into, kms_keys, names, server_audit, tags
from bot.chain_plan import CheckedChain, check_chain
from bot.domain import (
    BackupLocation,
    BackupSet,
    Edition,
    InstanceState,
    Job,
    RestorePlan,
    StageName,
    TaskLifecycle,
)
from bot.errors import RequestError, RestoreTaskError, StageError
from bot.ports import (
    AccountIdentity,
    AuditRoleSpec,
    BackupStore,
    InstanceGateway,
    InstanceSpec,
    NativeRestore,
    NetworkGateway,
    NetworkSpec,
    OptionGroupGateway,
    OptionGroupSpec,
    RoleGateway,
    RolePlacement,
    RoleSpec,
    ServerAuditGateway,
)
from config.policy_model import Policy

_T = TypeVar("_T")


@dataclass(frozen=True)
class Gateways:
    """The AWS side of one region, as ports."""

    backups: BackupStore
    network: NetworkGateway
    roles: RoleGateway
    option_groups: OptionGroupGateway
    instances: InstanceGateway
    native_restore: NativeRestore
    identity: AccountIdentity
    server_audit: ServerAuditGateway


@dataclass(frozen=True)
class Done:
    detail: str = ""


@dataclass(frozen=True)
class Waiting:
    detail: str
    percent: int | None = None


StepResult = Done | Waiting


@dataclass
class StageContext:
    gateways: Gateways
    policy: Policy
    # One batched DescribeDBInstances per engine tick feeds every job waiting on an instance.
    instance_states: dict[str, InstanceState] = field(default_factory=dict)


@dataclass(frozen=True)
class Preflight:
    backup: BackupSet
    notes: tuple[str, ...]
    chain: CheckedChain | None = None
    plan_updates: dict[str, Any] = field(default_factory=dict)  # --into: what the live instance decides

    @property
    def bucket_kms_key_arns(self) -> tuple[str, ...]:
        """The SSE-KMS keys of every object the restore reads: the full backup's, then the chain's."""
        chain_keys = self.chain.kms_key_arns if self.chain else ()
        return self.backup.kms_key_arns + tuple(k for k in chain_keys if k not in self.backup.kms_key_arns)


def preflight(plan: RestorePlan, gateways: Gateways, policy: Policy) -> Preflight:
    """The read-only AWS checks: backup present (at most 10 files), same region, fits the edition and the storage,
    its SSE-KMS keys and the requested keys of an allowed account, class orderable."""
    location = BackupLocation(bucket=plan.backup_bucket, key=plan.backup_key, multi_file=plan.multi_file)
    backup = gateways.backups.resolve(location, policy.backups.default_bucket)
    if backup.region != plan.region:
        raise RequestError(
            "backup",
            f"bucket {backup.bucket} is in {backup.region} but the restore targets {plan.region}",
            "RDS restores only from a bucket in the instance's region; copy the backup or pick that region",
        )
    chain = check_chain(plan.chain, plan.region, gateways.backups) if plan.chain else None
    _check_keys(plan, backup.kms_key_arns + (chain.kms_key_arns if chain else ()), gateways, policy)
    if plan.into is not None:
        target = into.check_target(plan, gateways.instances, gateways.option_groups, gateways.native_restore, policy)
        return Preflight(backup=backup, notes=target.notes, plan_updates=target.updates)
    _check_backup_size(plan, backup)
    notes: list[str] = []
    orderable: set[str] | frozenset[str] | None = gateways.instances.orderable_classes(
        plan.edition.value, plan.engine_version
    )
    if not orderable:
        orderable = instance_classes.BUILTIN_ORDERABLE[plan.edition]
        notes.append(
            f"{plan.region} listed no orderable classes for {plan.edition.value}; "
            "checked against rdsbot's built-in table"
        )
    if plan.instance_class not in orderable:
        suggestion = instance_classes.suggest_orderable(plan.instance_class, orderable)
        raise RequestError(
            "instance_class",
            f"{plan.instance_class} is not orderable for {plan.edition.value} in {plan.region}",
            f"try {suggestion}" if suggestion else None,
        )
    return Preflight(backup=backup, notes=tuple(notes), chain=chain)


# SQL Server Express holds at most 10 GB per database (AWS guide "SQLServer.Procedural.Importing", limitations).
EXPRESS_MAX_BYTES = 10 * 2**30
MAX_STORAGE_GB = 16384


def _check_backup_size(plan: RestorePlan, backup: BackupSet) -> None:
    size_gib = backup.total_bytes / 2**30
    if plan.edition == Edition.EXPRESS and backup.total_bytes > EXPRESS_MAX_BYTES:
        raise RequestError(
            "edition",
            f"the backup holds {size_gib:.1f} GiB and SQL Server Express restores at most 10 GB per database",
            "use --edition web, se or ee",
        )
    if plan.allocated_storage_gb * 2**30 < backup.total_bytes:
        # A restored database takes at least the backup's size; a quarter more leaves room for its log.
        suggested = min(MAX_STORAGE_GB, max(20, -(-backup.total_bytes * 5 // (4 * 2**30))))
        raise RequestError(
            "allocated_storage_gb",
            f"{plan.allocated_storage_gb} GiB of storage cannot hold the {size_gib:.1f} GiB backup",
            f"ask for --storage {suggested} or more",
        )


def _check_keys(plan: RestorePlan, bucket_keys: tuple[str, ...], gateways: Gateways, policy: Policy) -> None:
    """The bucket's SSE-KMS keys like the requested ones; with no kms.allowed_accounts, only the bot's account."""
    requested = {"backup_kms_key_arn": plan.backup_kms_key_arn, "storage_kms_key_arn": plan.storage_kms_key_arn}
    keys = [(name, key) for name, key in requested.items() if key] + [("backup", k) for k in bucket_keys]
    if not keys:
        return
    accounts = policy.kms.allowed_accounts or (gateways.identity.account_id(),)
    for name, key in keys:
        try:
            kms_keys.check_key_arn(name, key, plan.region, accounts)
        except RequestError as exc:
            if name != "backup":
                raise
            raise RequestError(
                "backup", f"the backup is stored with SSE-KMS, and its {exc.message}", exc.hint
            ) from None


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


def _restore_role(job: Job, ctx: StageContext) -> StepResult:
    plan = job.plan
    role_arn = ctx.gateways.roles.ensure_restore_role(
        RoleSpec(
            role_name=names.restore_role_name(plan.role_kms_key_arns),
            backup_buckets=ctx.policy.backups.buckets,
            kms_key_arns=plan.role_kms_key_arns,
            placement=_role_placement(ctx.policy),
        )
    )
    job.outputs.role_arn = role_arn
    job.outputs.audit_role_arn = _audit_role(ctx)
    return Done(role_arn)


def _option_group(job: Job, ctx: StageContext) -> StepResult:
    plan, audit = job.plan, ctx.policy.audit
    audit_prefix = names.sqlserver_audit_prefix(audit.prefix)
    # A job that passed the role stage before the audit role existed (an upgrade) ensures it here.
    audit_role_arn = job.outputs.audit_role_arn or _audit_role(ctx)
    group = ctx.gateways.option_groups.ensure_option_group(
        OptionGroupSpec(
            name=names.option_group_name(plan.edition.short, plan.major_version, plan.role_kms_key_arns),
            engine=plan.edition.value,
            major_version=plan.major_version,
            role_arn=_needed(job.outputs.role_arn, "role_arn"),
            audit_s3_bucket_arn=f"arn:aws:s3:::{audit.bucket}/{audit_prefix}" if audit.bucket else None,
            audit_role_arn=audit_role_arn,
            audit_retention_hours=audit.retention_hours,
            audit_compression=audit.compression,
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
                engine_version=plan.engine_version,
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
    if plan.chain is not None:
        return Done(chain_stages.send_step(job, state, native, 0))
    # A task started before a crash is found, not started again (on an --into instance, only one still running).
    existing = native.find_task(state, plan.database_name)
    ended = {TaskLifecycle.ERROR, TaskLifecycle.CANCELLED} | ({TaskLifecycle.SUCCESS} if plan.into else set())
    if existing is not None and existing.lifecycle not in ended:
        job.outputs.task_id = existing.task_id
        return Done(f"task {existing.task_id} already running for {plan.database_name}")
    dropped = into.clear_the_way(plan, state, native) if plan.into is not None else ""
    task_id = native.start_restore(state, plan.database_name, plan.s3_arn, plan.backup_kms_key_arn)
    job.outputs.task_id = task_id
    return Done(f"{dropped}rds_restore_database task {task_id}: {plan.s3_arn} -> {plan.database_name}")


def _restore_wait(job: Job, ctx: StageContext) -> StepResult:
    state = _ready_instance(job, ctx)
    if job.plan.chain is not None:
        progress = chain_stages.wait_step(job, state, ctx.gateways.native_restore)
        return Done(progress.detail) if progress.finished else Waiting(progress.detail, progress.percent)
    status = ctx.gateways.native_restore.task_status(state, _needed(job.outputs.task_id, "task_id"))
    if status.lifecycle == TaskLifecycle.SUCCESS:
        job.percent_complete = 100
        return Done(f"task {status.task_id} SUCCESS")
    if status.lifecycle in (TaskLifecycle.ERROR, TaskLifecycle.CANCELLED):
        reason = status.reason or f"restore task {status.task_id} ended {status.lifecycle}: {status.task_info}"
        raise RestoreTaskError(reason, status.task_info)
    return Waiting(f"{status.lifecycle} {status.percent_complete}%", status.percent_complete)


def _finalize(job: Job, ctx: StageContext) -> StepResult:
    plan, audit = job.plan, ctx.policy.audit
    job.outputs.console_url = (
        f"https://console.aws.amazon.com/rds/home?region={plan.region}"
        f"#database:id={plan.target_instance_id};is-cluster=false"
    )
    detail = f"{plan.database_name} restored on {job.outputs.endpoint}"
    if audit.bucket:
        # SQLSERVER_AUDIT ships only what a server audit writes: without one the linked folder stays empty.
        started = ctx.gateways.server_audit.ensure_server_audit(_ready_instance(job, ctx), audit.server_audit.spec())
        job.outputs.sqlserver_audit_url = ctx.gateways.backups.console_url(
            audit.bucket,
            f"{names.sqlserver_audit_prefix(audit.prefix)}/{plan.target_instance_id}/{started.audit_name}/",
        )
        job.outputs.sqlserver_audit_extension = server_audit.audit_file_extension(audit.compression)
        detail += f"; server audit {started.audit_name} {started.status}"
    return Done(detail)


def _unless_into(stage: Callable[[Job, StageContext], StepResult], reused: str) -> Callable[..., StepResult]:
    """A creating stage an --into job skips: the existing instance has its own; the detail records the reuse."""

    def run(job: Job, ctx: StageContext) -> StepResult:
        if job.plan.into is not None:
            return Done(f"skipped: --into reuses {job.plan.target_instance_id}'s {reused}; nothing created")
        return stage(job, ctx)

    return run


STAGES = {
    StageName.VALIDATE: _validate,
    StageName.NETWORK: _unless_into(_network, "subnet group and security groups"),
    StageName.RESTORE_ROLE: _unless_into(_restore_role, "option group's restore role"),
    StageName.OPTION_GROUP: _unless_into(_option_group, "option group"),
    StageName.INSTANCE: _instance,
    StageName.RESTORE_START: _restore_start,
    StageName.RESTORE_WAIT: _restore_wait,
    StageName.FINALIZE: _finalize,
}

# Stages that read the instance: the engine describes all such jobs' instances in one call per tick.
INSTANCE_STAGES = {StageName.INSTANCE, StageName.RESTORE_START, StageName.RESTORE_WAIT, StageName.FINALIZE}
