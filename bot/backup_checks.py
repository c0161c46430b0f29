"""/rds-backup's rules: the plan (pure, in the ack) and the read-only AWS checks before any card (submit) and
again in the validate stage. RequestError names the field; nothing is changed on AWS here.

Modelled on the AWS guide "SQLServer.Procedural.Importing.Native.Using" (backing up a database: the bucket in the
instance's region, at most 10 files, `*` and 1-of-N, @overwrite_s3_backup_file, differential on the last full) and
"SQLServer.Procedural.Importing.Native.Enabling" (what the option group's role needs to write a backup).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot import into, kms_keys
from bot.backup_request import (
    BackupRequest,
    check_stripes,
    default_destination,
    matching_pattern,
    split_destination,
)
from bot.backup_target import BACKUP_OBJECT_ACTIONS, BackupGrant, BackupTarget, BackupType
from bot.domain import InstanceState, RestorePlan, TaskLifecycle
from bot.errors import RdsbotError, RequestError
from bot.policy import (
    check_bot_can_reach_instances,
    check_database_name,
    check_instance_id,
    check_region,
    existing_instance_plan,
)
from bot.role_needs import managed_role
from bot.stage_context import Gateways
from config.policy_model import Policy

ONLINE = "ONLINE"


def _refield(field: str, exc: RequestError) -> RequestError:
    return RequestError(field, exc.message, exc.hint)


def plan_backup(request: BackupRequest, policy: Policy, job_id: str) -> RestorePlan:
    """Every rule that needs no AWS call; the live instance fills its class, engine and version at submit."""
    check_bot_can_reach_instances(policy)
    if policy.approvals.require_reason and not request.reason:
        raise RequestError(
            "reason",
            "this workspace's policy (approvals.require_reason) wants every backup to say why",
            'add --reason "why", e.g. --reason "INC-1234: copy before the migration"',
        )
    region = check_region(policy.region.or_default(request.region), policy)
    try:
        instance_id = check_instance_id(request.instance_id)
    except RequestError as exc:
        raise _refield("instance", exc) from None
    try:
        database = check_database_name(request.database_name)
    except RequestError as exc:
        raise _refield("database", exc) from None
    patterns = policy.backups.destinations
    url = request.destination or default_destination(patterns[0], instance_id, database, job_id, request.files)
    bucket, key = split_destination(url)
    check_stripes(key, request.files)
    pattern = matching_pattern(url, patterns)
    if request.kms_key_arn:
        # The role is granted this key, and IAM matches key use by key ARN only: no alias.
        kms_keys.check_key_arn(
            "backup_kms_key_arn", request.kms_key_arn, region, policy.kms.allowed_accounts, alias_allowed=False
        )
    return existing_instance_plan(
        policy,
        bucket=bucket,
        key=key,
        multi_file=request.files > 1,
        instance_id=instance_id,
        database=database,
        region=region,
        backup_kms_key_arn=request.kms_key_arn,
        reason=request.reason,
        backup=BackupTarget(
            bucket=bucket,
            key=key,
            files=request.files,
            backup_type=request.backup_type,
            overwrite=request.overwrite,
            destination_pattern=pattern,
        ),
    )


@dataclass(frozen=True)
class BackupCheck:
    """What the checks learned: the target as found (objects it overwrites, the role), the plan fields the live
    instance decides, and remarks for the card."""

    target: BackupTarget
    engine: dict[str, Any]
    notes: tuple[str, ...]
    state: InstanceState  # the live instance read for the checks, so the validate stage need not read it again

    @property
    def updates(self) -> dict[str, Any]:
        return {**self.engine, "backup": self.target}


@dataclass(frozen=True)
class RoleCheck:
    note: str  # for the card's Role line
    warning: bool = False  # also among the card's warnings: nobody could confirm the role may write


def check_backup(plan: RestorePlan, gateways: Gateways, policy: Policy) -> BackupCheck:
    """Every request-time check of a backup; read-only."""
    target = plan.backup
    if target is None:
        raise ValueError("check_backup needs a backup plan")
    state, allowed = _source_instance(plan, gateways, policy)
    group = state.option_group_name
    described = gateways.option_groups.describe(group) if group else None
    if described is None or into.BACKUP_RESTORE_OPTION not in described.options:
        raise RequestError(
            "instance",
            f"{state.instance_id}'s option group {group or '(none)'} lacks {into.BACKUP_RESTORE_OPTION}, so RDS "
            "would refuse rds_backup_database there",
            f"an admin may add {into.BACKUP_RESTORE_OPTION} (with IAM_ROLE_ARN) to {group or 'its option group'}",
        )
    _check_database(plan, state, gateways)
    region = gateways.backups.bucket_region(target.bucket)
    if region != plan.region:
        raise RequestError(
            "destination",
            f"bucket {target.bucket} is in {region} but {state.instance_id} is in {plan.region}",
            "RDS writes a backup only to a bucket in the instance's region",
        )
    if target.backup_type == BackupType.DIFFERENTIAL:
        _check_full_exists(plan, state, gateways)
    existing = gateways.backups.existing_objects(target.bucket, target.object_keys())
    urls = tuple(f"s3://{target.bucket}/{key}" for key in existing)
    if urls and not target.overwrite:
        raise RequestError(
            "overwrite",
            f"{', '.join(urls)} already exists",
            "add --overwrite to replace it, or choose another key (RDS refuses it otherwise)",
        )
    if plan.backup_kms_key_arn:
        accounts = policy.kms.allowed_accounts or (gateways.identity.account_id(),)
        kms_keys.check_key_arn("backup_kms_key_arn", plan.backup_kms_key_arn, plan.region, accounts)
    role_arn = described.backup_restore_role_arn
    if role_arn is None:
        raise RequestError(
            "instance",
            f"{group}'s {into.BACKUP_RESTORE_OPTION} option names no IAM_ROLE_ARN, so RDS cannot write to S3",
            "an admin must set IAM_ROLE_ARN on the option (AWS guide SQLServer.Procedural.Importing.Native.Enabling)",
        )
    role = _role_check(plan, role_arn, gateways, policy)
    notes = [role.note] if role.warning else []
    if state.status != "available":
        notes.append(f"{state.instance_id} is {state.status}; the backup waits until it is available")
    found = target.model_copy(
        update={
            "overwrites": urls,
            "allowed_by": allowed,
            "role_arn": role_arn,
            "role_note": role.note,
        }
    )
    return BackupCheck(target=found, engine=into.live_engine(state, plan), notes=tuple(notes), state=state)


def _source_instance(plan: RestorePlan, gateways: Gateways, policy: Policy) -> tuple[InstanceState, str]:
    """The live instance and what allows rdsbot onto it (its tag, or the targets.existing_instances pattern)."""
    try:
        state = into.live_instance(plan, gateways.instances)
        return state, into.allowed_by(state, policy)
    except RequestError as exc:
        raise _refield("instance", exc) from None


def _check_database(plan: RestorePlan, state: InstanceState, gateways: Gateways) -> None:
    if not state.endpoint_address:
        raise RequestError("instance", f"{state.instance_id} has no endpoint yet", "try again once it is available")
    try:
        status = gateways.native_restore.database_state(state, plan.database_name)
    except RdsbotError as exc:
        raise RequestError("instance", f"cannot check {plan.database_name} on {state.instance_id}: {exc}") from None
    if status is None:
        raise RequestError(
            "database", f"no database {plan.database_name} on {state.instance_id}", "check the name (/rds-status)"
        )
    if status != ONLINE:
        raise RequestError(
            "database",
            f"database {plan.database_name} on {state.instance_id} is {status}, not ONLINE",
            "a database left RESTORING by a NORECOVERY restore must be finished (rds_finish_restore) first",
        )


def _check_full_exists(plan: RestorePlan, state: InstanceState, gateways: Gateways) -> None:
    """A differential holds the changes since the last full backup: without a full one taken on this instance after
    the database was last restored, SQL Server refuses it (error 3035). RDS snapshots after a restore, and the guide
    says a snapshot between the full and the differential breaks it, so only a later full counts."""
    tasks = sorted(gateways.native_restore.tasks_for(state, plan.database_name), key=lambda t: t.task_id)
    last_full: int | None = None
    for task in tasks:
        if task.task_type.startswith("RESTORE_DB"):
            last_full = None
        elif task.task_type == "BACKUP_DB" and task.lifecycle == TaskLifecycle.SUCCESS:
            last_full = task.task_id
    if last_full is None:
        raise RequestError(
            "type",
            f"no full backup of {plan.database_name} was taken on {state.instance_id} since it was restored, so SQL "
            "Server would refuse a differential (error 3035)",
            "take one with --type full first",
        )


def _role_check(plan: RestorePlan, role_arn: str, gateways: Gateways, policy: Policy) -> RoleCheck:
    """What the option group's role needs to write the destination, and what rdsbot does about it: a role rdsbot
    manages is extended before the task is sent; another is only checked: refused when IAM denies it something, a
    warning when only a bucket or key policy may grant it (bot/role_evaluation.py)."""
    target = plan.backup
    if target is None:
        raise ValueError("_role_check needs a backup plan")
    if managed_role(role_arn, policy.roles.path):
        return RoleCheck(f"rdsbot allows {role_arn} to write {target.url} before the backup starts")
    gaps = gateways.roles.missing_permissions(role_arn, backup_grant(plan))
    if gaps is None:
        needs = ", ".join(BACKUP_OBJECT_ACTIONS)
        return RoleCheck(f"could not check {role_arn}; it must allow {needs} on {target.url}", warning=True)
    if gaps.denied:
        raise RequestError(
            "instance",
            f"{role_arn} (the option group's role, not rdsbot's) lacks {'; '.join(gaps.denied)}",
            "an admin must grant it (AWS guide SQLServer.Procedural.Importing.Native.Enabling); rdsbot changes only "
            "roles it made",
        )
    if gaps.unconfirmed:
        # A bucket policy (or the backup key's policy) may grant what the role's own policies do not.
        failure = "rds_backup_database fails after approval"
        return RoleCheck(gaps.unconfirmed_note(role_arn, f"write {target.url}", failure), warning=True)
    return RoleCheck(f"{role_arn} may write {target.url}")


def backup_grant(plan: RestorePlan) -> BackupGrant:
    target = plan.backup
    if target is None:
        raise ValueError("backup_grant needs a backup plan")
    # The allowed pattern's key part (copies/*), not this one key: one grant serves every backup under it.
    pattern = target.destination_pattern
    object_pattern = pattern.split("/", 3)[3] if pattern.count("/") >= 3 else target.key
    return BackupGrant(bucket=target.bucket, object_pattern=object_pattern, kms_key_arn=plan.backup_kms_key_arn)
