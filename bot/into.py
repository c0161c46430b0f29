"""`--into`: restore onto an instance that exists. Which instances may be a target, what is read from the live
instance at request time, and the database check before the restore. Pure over the ports."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from bot import engine_versions, into_restore_role, into_tde_role, names, tags, tde
from bot.aws_values import OptionGroupState
from bot.domain import Edition, InstanceState, RestorePlan
from bot.errors import RdsbotError, RequestError, StageError
from bot.into_target import IntoTarget
from bot.ports import InstanceGateway, NativeRestore
from bot.stage_context import Gateways
from config.policy_model import Policy

# The option rds_restore_database needs in the instance's option group (AWS guide
# "SQLServer.Procedural.Importing.Native.Enabling").
BACKUP_RESTORE_OPTION = "SQLSERVER_BACKUP_RESTORE"


@dataclass(frozen=True)
class IntoCheck:
    """What the preflight learned: the plan fields the live instance decides, and remarks for the card."""

    updates: dict[str, Any]
    notes: tuple[str, ...]


def allowed_by(state: InstanceState, policy: Policy) -> str:
    """Why rdsbot may restore onto this instance, or RequestError naming the policy key that would allow it."""
    if tags.is_drill_instance(state.tags):
        raise RequestError(
            "into_instance_id", f"{state.instance_id} is a restore drill's instance; its drill deletes it", None
        )
    if tags.made_by_rdsbot(state.tags):
        return f"tag {tags.MANAGED_BY}={tags.MANAGED_BY_VALUE}"
    for pattern in policy.targets.existing_instances:
        if fnmatchcase(state.instance_id, pattern):
            return f"targets.existing_instances {pattern}"
    raise RequestError(
        "into_instance_id",
        f"{state.instance_id} was not made by rdsbot and matches no pattern in targets.existing_instances",
        "an operator may list it (or a pattern such as staging-*) in the policy's targets.existing_instances",
    )


def live_instance(plan: RestorePlan, instances: InstanceGateway) -> InstanceState:
    """The --into instance as DescribeDBInstances shows it now; RequestError when it is absent or not SQL Server."""
    state = instances.find(plan.target_instance_id)
    if state is None:
        raise RequestError(
            "into_instance_id",
            f"no RDS instance {plan.target_instance_id} in {plan.region}",
            "check the name; --region picks another allowed region",
        )
    if not (state.engine or "").startswith("sqlserver-"):
        raise RequestError(
            "into_instance_id",
            f"{state.instance_id} runs {state.engine or 'an unknown engine'}, not SQL Server",
            "rdsbot restores native SQL Server backups only",
        )
    return state


def check_target(
    plan: RestorePlan,
    gateways: Gateways,
    policy: Policy,
    tde_file_kms_key_arns: tuple[str, ...] = (),
    backup_object_arns: tuple[str, ...] = (),
) -> IntoCheck:
    """Every request-time check of an --into target; nothing is changed on AWS. `plan` carries the SSE-KMS keys the
    preflight found (they name a TDE restore's role); `tde_file_kms_key_arns` are those of the certificate files;
    `backup_object_arns` every object rds_restore_database reads (the option group's role must read them)."""
    into = plan.into or IntoTarget()
    state = live_instance(plan, gateways.instances)
    allowed = allowed_by(state, policy)
    group = state.option_group_name
    engine = live_engine(state, plan)
    described = gateways.option_groups.describe(group) if group else None
    options = set(described.options) if described else None
    notes: list[str] = []
    change: dict[str, Any] = {}
    if BACKUP_RESTORE_OPTION not in (options or set()):
        change = option_group_change(state, options, engine["major_version"], plan, policy)
    if plan.tde is not None:
        _check_tde(state, group, options or set())
        if described is not None and not change:
            lacks = into_tde_role.role_gaps(
                plan, described, gateways.roles, policy.roles.path, tde_file_kms_key_arns, notes
            )
            if lacks:
                change = tde_role_change(state, described, lacks, engine["major_version"], plan, policy)
    elif described is not None and not change:
        lacks = into_restore_role.role_gaps(
            plan, described, gateways.roles, policy.roles.path, backup_object_arns, notes
        )
        if lacks:
            _refuse_unreadable(state, described, lacks)
    native = gateways.native_restore
    if state.status != "available":
        notes.append(f"{state.instance_id} is {state.status}; the restore waits until it is available")
    existed = database_exists(state, plan.database_name, native, notes)
    if existed and not into.replace:
        raise RequestError(
            "replace",
            f"database {plan.database_name} already exists on {state.instance_id}",
            "add --replace to drop it (rds_drop_database) and restore over it, or choose another name with --db",
        )
    learned = {"allowed_by": allowed, "option_group": group, "database_existed": existed, **change}
    updates: dict[str, Any] = {**engine, "into": into.model_copy(update=learned)}
    return IntoCheck(updates=updates, notes=tuple(notes))


def check_approved_change(plan: RestorePlan, now: IntoTarget | None) -> None:
    """At validate: the option-group change the target needs now (none, or a copy) is the one the approver saw;
    otherwise StageError before anything is changed (a role that lost a grant, a group changed by someone else)."""
    if plan.into is None or now is None or now.new_option_group == plan.into.new_option_group:
        return
    approved = f"option group {plan.into.new_option_group}" if plan.into.new_option_group else "none"
    needed = f"option group {now.new_option_group}" if now.new_option_group else "no option group change"
    if now.replaced_role_lacks:
        needed += f" ({now.replaced_role_arn or 'its role'} lacks {'; '.join(now.replaced_role_lacks)})"
    raise StageError(
        f"{plan.target_instance_id} now needs {needed}, not {approved} as approved; nothing was changed. "
        "Request the restore again"
    )


def live_engine(state: InstanceState, plan: RestorePlan) -> dict[str, Any]:
    """The plan fields an existing instance decides: its class, edition, engine version and major version."""
    edition = Edition(state.engine) if state.engine in {e.value for e in Edition} else plan.edition
    version = state.engine_version or ""
    return {
        "instance_class": state.instance_class,
        "edition": edition,
        "engine_version": version or None,
        "major_version": engine_versions.major_of(version) if version else plan.major_version,
    }


def option_group_change(
    state: InstanceState, options: set[str] | None, major: str, plan: RestorePlan, policy: Policy
) -> dict[str, Any]:
    """The new option group an instance lacking SQLSERVER_BACKUP_RESTORE gets, when targets.allow_option_group_change
    allows one; otherwise RequestError naming the key. RDS cannot modify a default option group, and changing the
    instance's own group would change every instance sharing it, so the new group is a copy (AWS guide
    "USER_WorkingWithOptionGroups"; "SQLServer.Procedural.Importing.Native.Enabling" for the option)."""
    group = state.option_group_name or "(none)"
    if not policy.targets.allow_option_group_change:
        raise RequestError(
            "into_instance_id",
            f"{state.instance_id}'s option group {group} lacks {BACKUP_RESTORE_OPTION}, so RDS would refuse "
            "rds_restore_database there, and targets.allow_option_group_change is false",
            "an operator may set targets.allow_option_group_change: true to let rdsbot apply a copy of the group "
            f"with {BACKUP_RESTORE_OPTION}, or an admin may add {BACKUP_RESTORE_OPTION} (with IAM_ROLE_ARN) to {group}",
        )
    return _copy_of(state, options, major, plan)


def tde_role_change(
    state: InstanceState, group: OptionGroupState, lacks: tuple[str, ...], major: str, plan: RestorePlan, policy: Policy
) -> dict[str, Any]:
    """A TDE restore onto a group whose SQLSERVER_BACKUP_RESTORE role cannot import the certificate: a copy of the
    group naming rdsbot's `-tde` role instead, when targets.allow_option_group_change allows one; otherwise
    RequestError naming what the role lacks and the key (changing the role in place would change it for every
    instance on the group, and rdsbot changes no role it did not make)."""
    role = group.backup_restore_role_arn
    own = into_tde_role.own_role_name(plan)
    if not policy.targets.allow_option_group_change:
        found = (
            f"runs {BACKUP_RESTORE_OPTION} as {role}, which lacks {'; '.join(lacks)}"
            if role
            else f"has {BACKUP_RESTORE_OPTION} without an IAM_ROLE_ARN"
        )
        raise RequestError(
            "into_instance_id",
            f"{state.instance_id}'s option group {group.name} {found}, so RDS would refuse "
            "rds_restore_tde_certificate after approval, and targets.allow_option_group_change is false",
            "an operator may set targets.allow_option_group_change: true to let rdsbot apply a copy of the group "
            f"whose {BACKUP_RESTORE_OPTION} names rdsbot's role {own}, or an admin may "
            + (f"grant {role} what it lacks" if role else "set IAM_ROLE_ARN to a role that can")
            + " (AWS guide TDE.BackupRestoreRDS, prerequisites)",
        )
    copy = _copy_of(state, set(group.options), major, plan)
    if copy["new_option_group"] == group.name:
        raise RequestError(
            "into_instance_id",
            f"{state.instance_id} is already on {group.name}, rdsbot's copy for these keys, but its "
            f"{BACKUP_RESTORE_OPTION} role is now {role}, which lacks {'; '.join(lacks)}",
            f"someone changed the group outside rdsbot: an admin may set IAM_ROLE_ARN back to rdsbot's role {own}",
        )
    return {**copy, "replaced_role_arn": group.backup_restore_role_arn, "replaced_role_lacks": lacks}


def _refuse_unreadable(state: InstanceState, group: OptionGroupState, lacks: tuple[str, ...]) -> None:
    """A plain restore onto a group whose SQLSERVER_BACKUP_RESTORE role cannot read the backup: refused, since a copy
    of the group for a plain restore is named per instance only (names.into_option_group_name), not per key like
    the TDE one, so it cannot stand in for a role; targets.allow_option_group_change does not apply."""
    role = group.backup_restore_role_arn
    found = (
        f"runs {BACKUP_RESTORE_OPTION} as {role}, which lacks {'; '.join(lacks)}"
        if role
        else (f"has {BACKUP_RESTORE_OPTION} without an IAM_ROLE_ARN")
    )
    raise RequestError(
        "into_instance_id",
        f"{state.instance_id}'s option group {group.name} {found}, so RDS would refuse rds_restore_database after "
        "approval; targets.allow_option_group_change does not replace a role that cannot read a plain backup",
        "an admin may "
        + (f"grant {role} what it lacks" if role else "set IAM_ROLE_ARN to a role that can read the backup")
        + " (AWS guide SQLServer.Procedural.Importing.Native.Enabling); rdsbot changes only roles it made",
    )


def _copy_of(state: InstanceState, options: set[str] | None, major: str, plan: RestorePlan) -> dict[str, Any]:
    """The copy's name and the options it takes over: all but SQLSERVER_BACKUP_RESTORE, which names rdsbot's role."""
    keys, tde_restore = plan.role_kms_key_arns, plan.tde is not None
    return {
        "new_option_group": names.into_option_group_name(state.instance_id, major, keys, tde=tde_restore),
        "copied_options": tuple(sorted((options or set()) - {BACKUP_RESTORE_OPTION})),
    }


def _check_tde(state: InstanceState, group: str | None, options: set[str]) -> None:
    """A TDE backup restores only where the option group carries TDE (AWS guide "TDE.BackupRestoreRDS",
    limitations) on an edition and version RDS offers TDE for."""
    if tde.TDE_OPTION not in options:
        raise RequestError(
            "tde_certificate",
            f"{state.instance_id}'s option group {group or '(none)'} lacks the {tde.TDE_OPTION} option, so RDS would "
            "refuse rds_restore_tde_certificate there",
            f"an admin may add {tde.TDE_OPTION} to {group or 'its option group'} (a persistent option: it stays "
            "while an instance uses the group); rdsbot does not change another instance's option group",
        )
    version = state.engine_version or ""
    tde.check_support(state.engine or "", engine_versions.major_of(version), f"instance {state.instance_id}")
    tde.check_single_az(state.multi_az, f"instance {state.instance_id}")


def database_exists(state: InstanceState, name: str, native: NativeRestore, notes: list[str]) -> bool | None:
    """Ask the instance; None (with a note) when it cannot be reached now. Not refusing then is safe: the restore
    stage asks again before anything runs, and RDS itself refuses to restore over an existing database."""
    if not state.endpoint_address:
        notes.append(f"{state.instance_id} has no endpoint yet; whether {name} exists is checked before the restore")
        return None
    try:
        return native.database_exists(state, name)
    except RdsbotError as exc:
        notes.append(
            f"could not check whether {name} exists on {state.instance_id} ({exc}); checked again before the restore"
        )
        return None


def clear_the_way(plan: RestorePlan, state: InstanceState, native: NativeRestore) -> str:
    """Right before an --into restore: refuse over an existing database, or drop it for --replace. Returns what
    was done, for the stage's audited detail."""
    into = plan.into or IntoTarget()
    if not native.database_exists(state, plan.database_name):
        return ""
    if not into.replace:
        raise StageError(
            f"database {plan.database_name} appeared on {state.instance_id} after the request; nothing was "
            "changed. Ask again with --replace to drop it first, or choose another --db"
        )
    native.drop_database(state, plan.database_name)
    return f"dropped {plan.database_name} with rds_drop_database (--replace); "
