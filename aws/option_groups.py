"""The option group that turns on native backup/restore (and SQL Server Audit to S3) for restore instances.

Naming a role in IAM_ROLE_ARN makes ModifyOptionGroup pass it to RDS: the caller needs iam:PassRole on it
(see aws/permissions.py)."""

from __future__ import annotations

import logging
from typing import Any

from aws.errors import aws_call, is_not_found
from bot import tags
from bot.aws_values import OptionGroupState
from bot.errors import AwsError, StageError
from bot.ports import EnsuredOptionGroup, OptionGroupCopySpec, OptionGroupSpec
from bot.tde import TDE_OPTION

log = logging.getLogger(__name__)

BACKUP_RESTORE = "SQLSERVER_BACKUP_RESTORE"
AUDIT = "SQLSERVER_AUDIT"
TDE = TDE_OPTION  # no settings; persistent, so never removed (and only in rdsbot's `-tde` groups)


def wanted_options(spec: OptionGroupSpec) -> dict[str, dict[str, str]]:
    """Option name -> the settings rdsbot sets on it."""
    options = {BACKUP_RESTORE: {"IAM_ROLE_ARN": spec.role_arn}}
    if spec.audit_s3_bucket_arn:
        # Never the restore role: that one may only read backups, this one may only write audit files.
        if not spec.audit_role_arn or spec.audit_role_arn == spec.role_arn:
            raise StageError(f"option group {spec.name}: SQLSERVER_AUDIT needs its own role, not the restore role")
        options[AUDIT] = {
            "IAM_ROLE_ARN": spec.audit_role_arn,
            "S3_BUCKET_ARN": spec.audit_s3_bucket_arn,
            "RETENTION_TIME": str(spec.audit_retention_hours),
            # Set, not left to RDS's default, so the completion message can name the files' extension.
            "ENABLE_COMPRESSION": "true" if spec.audit_compression else "false",
        }
    if spec.tde:
        options[TDE] = {}
    return options


def current_options(group: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Option name -> setting name -> value, from a DescribeOptionGroups entry.

    AWS lists every setting of an option (with defaults, descriptions, allowed values); moto only those set.
    Either way each setting has Name and, when set, Value.
    """
    return {
        option["OptionName"]: {s["Name"]: s["Value"] for s in option.get("OptionSettings", []) if "Value" in s}
        for option in group.get("Options", [])
    }


def copied_configurations(source: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The OptionsToInclude that give a new group `source`'s options as they are set (a DescribeOptionGroups entry;
    None: no options, as a default group has). Settings RDS reports as not modifiable are its own, not copied."""
    configurations = []
    for option in (source or {}).get("Options", []):
        if option["OptionName"] == BACKUP_RESTORE:
            continue  # replaced by the one naming rdsbot's restore role
        config: dict[str, Any] = {"OptionName": option["OptionName"]}
        settings = [
            {"Name": s["Name"], "Value": s["Value"]}
            for s in option.get("OptionSettings", [])
            if "Value" in s and s.get("IsModifiable", True)
        ]
        if settings:
            config["OptionSettings"] = settings
        if option.get("OptionVersion"):
            config["OptionVersion"] = option["OptionVersion"]
        if option.get("Port"):
            config["Port"] = option["Port"]
        groups = [m["VpcSecurityGroupId"] for m in option.get("VpcSecurityGroupMemberships", [])]
        if groups:
            config["VpcSecurityGroupMemberships"] = groups
        configurations.append(config)
    return configurations


def _missing(configurations: list[dict[str, Any]], current: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """The configurations the group does not carry yet, as set: only the settings named are compared."""
    return [
        config
        for config in configurations
        if config["OptionName"] not in current
        or not {s["Name"]: s["Value"] for s in config.get("OptionSettings", [])}.items()
        <= current[config["OptionName"]].items()
    ]


class OptionGroups:
    """OptionGroupGateway over RDS."""

    def __init__(self, rds: Any) -> None:
        self._rds = rds

    def ensure_option_group(self, spec: OptionGroupSpec) -> EnsuredOptionGroup:
        """The option group, created or its options brought in line with `spec` as needed."""
        group = self._entry(spec.name)
        created = group is None
        if group is None:
            self._create(spec.name, spec.engine, spec.major_version, "native restore")
            current: dict[str, dict[str, str]] = {}
        else:
            if (group["EngineName"], group["MajorEngineVersion"]) != (spec.engine, spec.major_version):
                raise StageError(
                    f"option group {spec.name} is for {group['EngineName']} {group['MajorEngineVersion']}, "
                    f"not {spec.engine} {spec.major_version}; an option group cannot change engine, so name another"
                )
            current = current_options(group)

        wanted = wanted_options(spec)
        # Only the settings rdsbot owns are compared: AWS reports defaults and descriptions rdsbot never sets.
        include = [
            {"OptionName": name, "OptionSettings": [{"Name": k, "Value": v} for k, v in settings.items()]}
            for name, settings in wanted.items()
            if name not in current or not settings.items() <= current[name].items()
        ]
        # Audit switched off in the policy: take it away. Options rdsbot never sets (TDE...) are left alone.
        remove = [AUDIT] if AUDIT in current and AUDIT not in wanted else []
        if include or remove:
            # Empty lists are left out: the query protocol would send them as an empty, invalid parameter.
            changes: dict[str, Any] = {"OptionsToInclude": include} if include else {}
            if remove:
                changes["OptionsToRemove"] = remove
            with aws_call("ModifyOptionGroup"):
                self._rds.modify_option_group(OptionGroupName=spec.name, ApplyImmediately=True, **changes)
            log.info("option group %s: set %s, removed %s", spec.name, [o["OptionName"] for o in include], remove)
        return EnsuredOptionGroup(name=spec.name, created=created)

    def ensure_copy(self, spec: OptionGroupCopySpec) -> EnsuredOptionGroup:
        """An --into instance's new group: `spec.source`'s options plus SQLSERVER_BACKUP_RESTORE with the restore
        role, created or brought in line. The source is only read: RDS cannot modify a default option group, and a
        shared one serves other instances (AWS guide "USER_WorkingWithOptionGroups")."""
        source = self._entry(spec.source) if spec.source else None  # moto has no default groups: None
        group = self._entry(spec.name)
        for found in (source, group):
            if found is not None and (found["EngineName"], found["MajorEngineVersion"]) != (
                spec.engine,
                spec.major_version,
            ):
                raise StageError(
                    f"option group {found['OptionGroupName']} is for {found['EngineName']} "
                    f"{found['MajorEngineVersion']}, not {spec.engine} {spec.major_version} as {spec.name} must be"
                )
        created = group is None
        if group is None:
            self._create(spec.name, spec.engine, spec.major_version, f"{spec.source}'s options plus {BACKUP_RESTORE}")
        wanted = [
            *copied_configurations(source),
            {"OptionName": BACKUP_RESTORE, "OptionSettings": [{"Name": "IAM_ROLE_ARN", "Value": spec.role_arn}]},
        ]
        include = _missing(wanted, current_options(group or {}))
        if include:
            with aws_call("ModifyOptionGroup"):
                self._rds.modify_option_group(
                    OptionGroupName=spec.name, OptionsToInclude=include, ApplyImmediately=True
                )
            log.info("option group %s: set %s", spec.name, [o["OptionName"] for o in include])
        return EnsuredOptionGroup(name=spec.name, created=created)

    def _create(self, name: str, engine: str, major_version: str, purpose: str) -> None:
        """An empty option group, tagged as rdsbot's (CreateOptionGroup; the options come with ModifyOptionGroup)."""
        with aws_call("CreateOptionGroup"):
            self._rds.create_option_group(
                OptionGroupName=name,
                EngineName=engine,
                MajorEngineVersion=major_version,
                OptionGroupDescription=f"rdsbot {purpose} for {engine} {major_version}",
                Tags=tags.aws_tag_list(tags.MANAGED),
            )
        log.info("created option group %s (%s)", name, purpose)

    def describe(self, name: str) -> OptionGroupState | None:
        """An --into target's or a backup source's group, in one DescribeOptionGroups: its options and the role
        RDS assumes to read or write S3 (IAM_ROLE_ARN of SQLSERVER_BACKUP_RESTORE); None when there is no such group."""
        group = self._entry(name) if name else None
        if group is None:
            return None
        options = current_options(group)
        return OptionGroupState(
            name=name,
            options=frozenset(options),
            backup_restore_role_arn=options.get(BACKUP_RESTORE, {}).get("IAM_ROLE_ARN"),
        )

    def _entry(self, name: str) -> dict[str, Any] | None:
        try:
            with aws_call("DescribeOptionGroups"):
                groups = self._rds.describe_option_groups(OptionGroupName=name)["OptionGroupsList"]
        except AwsError as exc:
            if is_not_found(exc):
                return None
            raise
        return dict(groups[0]) if groups else None
