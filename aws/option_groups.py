"""The option group that turns on native backup/restore (and SQL Server Audit to S3) for restore instances.

Naming a role in IAM_ROLE_ARN makes ModifyOptionGroup pass it to RDS: the caller needs iam:PassRole on it
(see aws/permissions.py)."""

from __future__ import annotations

import logging
from typing import Any

from aws.errors import aws_call, is_not_found
from bot import tags
from bot.errors import AwsError, StageError
from bot.ports import EnsuredOptionGroup, OptionGroupSpec
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


class OptionGroups:
    """OptionGroupGateway over RDS."""

    def __init__(self, rds: Any) -> None:
        self._rds = rds

    def ensure_option_group(self, spec: OptionGroupSpec) -> EnsuredOptionGroup:
        """The option group, created or its options brought in line with `spec` as needed."""
        group = self._describe(spec.name)
        created = group is None
        if group is None:
            with aws_call("CreateOptionGroup"):
                self._rds.create_option_group(
                    OptionGroupName=spec.name,
                    EngineName=spec.engine,
                    MajorEngineVersion=spec.major_version,
                    OptionGroupDescription=f"rdsbot native restore for {spec.engine} {spec.major_version}",
                    Tags=tags.aws_tag_list(tags.MANAGED),
                )
            log.info("created option group %s", spec.name)
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

    def option_names(self, name: str) -> set[str] | None:
        """The options `name` carries, or None when no such group exists (an --into target's group)."""
        group = self._describe(name)
        return None if group is None else set(current_options(group))

    def _describe(self, name: str) -> dict[str, Any] | None:
        try:
            with aws_call("DescribeOptionGroups"):
                groups = self._rds.describe_option_groups(OptionGroupName=name)["OptionGroupsList"]
        except AwsError as exc:
            if is_not_found(exc):
                return None
            raise
        return dict(groups[0]) if groups else None
