"""SQL Server Audit on RDS: the server audit and server audit specification rdsbot switches on at finalize, and the
rules RDS and SQL Server put on them. Pure: the policy validates with these, the driver builds its statements from
an already checked ServerAuditSpec, the sandbox refuses what RDS refuses with the same tables.

RDS ships to S3 only the files a server audit writes (AWS guide "Appendix.SQLServer.Options.Audit", "Using SQL
Server Audit"): the audit must write a binary file to D:\\rdsdbdata\\SQLAudit, MAXSIZE 2 to 50 MB, no
MAX_ROLLOVER_FILES or MAX_FILES, no shutdown on failure, at most 50 audits, and neither the audit's nor a
specification's name may start with RDS_. Files land at bucket/prefix/instance/audit-name/node_file.ext, ext `zip`
with ENABLE_COMPRESSION (the default) and `sqlaudit` without it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from bot.errors import RequestError

AUDIT_FILEPATH = "D:\\rdsdbdata\\SQLAudit"
MIN_MAXSIZE_MB = 2
MAX_MAXSIZE_MB = 50
MAX_SERVER_AUDITS = 50
RESERVED_PREFIX = "RDS_"
# A regular identifier that needs no quoting on any collation; rdsbot still bracket-quotes it in every statement.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")

# The server-level audit action groups of SQL Server 2016 (13.x) and later, the oldest major version rdsbot offers
# (Microsoft Learn, "SQL Server Audit Action Groups and Actions", server-level audit action groups).
SERVER_ACTION_GROUPS = frozenset(
    {
        "APPLICATION_ROLE_CHANGE_PASSWORD_GROUP",
        "AUDIT_CHANGE_GROUP",
        "BACKUP_RESTORE_GROUP",
        "BROKER_LOGIN_GROUP",
        "DATABASE_CHANGE_GROUP",
        "DATABASE_LOGOUT_GROUP",
        "DATABASE_MIRRORING_LOGIN_GROUP",
        "DATABASE_OBJECT_ACCESS_GROUP",
        "DATABASE_OBJECT_CHANGE_GROUP",
        "DATABASE_OBJECT_OWNERSHIP_CHANGE_GROUP",
        "DATABASE_OBJECT_PERMISSION_CHANGE_GROUP",
        "DATABASE_OPERATION_GROUP",
        "DATABASE_OWNERSHIP_CHANGE_GROUP",
        "DATABASE_PERMISSION_CHANGE_GROUP",
        "DATABASE_PRINCIPAL_CHANGE_GROUP",
        "DATABASE_PRINCIPAL_IMPERSONATION_GROUP",
        "DATABASE_ROLE_MEMBER_CHANGE_GROUP",
        "DBCC_GROUP",
        "FAILED_DATABASE_AUTHENTICATION_GROUP",
        "FAILED_LOGIN_GROUP",
        "FULLTEXT_GROUP",
        "LOGIN_CHANGE_PASSWORD_GROUP",
        "LOGOUT_GROUP",
        "SCHEMA_OBJECT_ACCESS_GROUP",
        "SCHEMA_OBJECT_CHANGE_GROUP",
        "SCHEMA_OBJECT_OWNERSHIP_CHANGE_GROUP",
        "SCHEMA_OBJECT_PERMISSION_CHANGE_GROUP",
        "SERVER_OBJECT_CHANGE_GROUP",
        "SERVER_OBJECT_OWNERSHIP_CHANGE_GROUP",
        "SERVER_OBJECT_PERMISSION_CHANGE_GROUP",
        "SERVER_OPERATION_GROUP",
        "SERVER_PERMISSION_CHANGE_GROUP",
        "SERVER_PRINCIPAL_CHANGE_GROUP",
        "SERVER_PRINCIPAL_IMPERSONATION_GROUP",
        "SERVER_ROLE_MEMBER_CHANGE_GROUP",
        "SERVER_STATE_CHANGE_GROUP",
        "SUCCESSFUL_DATABASE_AUTHENTICATION_GROUP",
        "SUCCESSFUL_LOGIN_GROUP",
        "TRACE_CHANGE_GROUP",
        "TRANSACTION_GROUP",
        "USER_CHANGE_PASSWORD_GROUP",
        "USER_DEFINED_AUDIT_GROUP",
    }
)
# Documented, but only on SQL Server 2022 (16.x): a policy naming them would break restores onto 13.00 to 15.00.
NEWER_ACTION_GROUPS = {"BATCH_COMPLETED_GROUP": "16.00", "BATCH_STARTED_GROUP": "16.00"}

# A restored copy holds production data: record who got in or tried to, who was given access, who changed the
# audit, who copied the data out (BACKUP_RESTORE_GROUP covers rds_backup_database) and schema changes. Reads of
# every table (SCHEMA_OBJECT_ACCESS_GROUP) and every batch are left out: their volume would bury the rest.
DEFAULT_ACTION_GROUPS = (
    "SUCCESSFUL_LOGIN_GROUP",
    "FAILED_LOGIN_GROUP",
    "SERVER_PRINCIPAL_CHANGE_GROUP",
    "SERVER_ROLE_MEMBER_CHANGE_GROUP",
    "SERVER_PERMISSION_CHANGE_GROUP",
    "DATABASE_PRINCIPAL_CHANGE_GROUP",
    "DATABASE_ROLE_MEMBER_CHANGE_GROUP",
    "DATABASE_PERMISSION_CHANGE_GROUP",
    "DATABASE_CHANGE_GROUP",
    "DATABASE_OBJECT_CHANGE_GROUP",
    "SCHEMA_OBJECT_CHANGE_GROUP",
    "BACKUP_RESTORE_GROUP",
    "AUDIT_CHANGE_GROUP",
)


def check_name(field: str, name: str) -> str:
    """A server audit or specification name RDS accepts; RequestError naming `field` otherwise."""
    if not _NAME.fullmatch(name):
        raise RequestError(
            field,
            f"{name!r} is not a plain SQL Server name",
            "use a letter, then letters, digits or underscores (at most 100)",
        )
    if name.upper().startswith(RESERVED_PREFIX):
        raise RequestError(field, f"{name!r} starts with RDS_, which RDS keeps for its own audits", "drop the prefix")
    return name


def check_action_group(field: str, group: str) -> str:
    """A documented server-level action group, upper-cased; RequestError naming `field` with a hint otherwise."""
    name = group.strip().upper()
    if name in SERVER_ACTION_GROUPS:
        return name
    if name in NEWER_ACTION_GROUPS:
        raise RequestError(
            field,
            f"{name} exists only on SQL Server {NEWER_ACTION_GROUPS[name]} and later",
            "restores may target 13.00 to 16.00; choose a group every version has",
        )
    close = difflib.get_close_matches(name, sorted(SERVER_ACTION_GROUPS), n=1)
    hint = f"did you mean {close[0]}?" if close else "see SQL Server Audit Action Groups and Actions"
    raise RequestError(field, f"{group!r} is not a server-level audit action group", hint)


def check_max_size(field: str, megabytes: int) -> int:
    """MAXSIZE in MB within RDS's range."""
    if not MIN_MAXSIZE_MB <= megabytes <= MAX_MAXSIZE_MB:
        raise RequestError(
            field,
            f"{megabytes} MB is outside the {MIN_MAXSIZE_MB} to {MAX_MAXSIZE_MB} MB RDS allows for an audit file",
            "choose a size from 2 to 50",
        )
    return megabytes


@dataclass(frozen=True)
class ServerAuditSpec:
    """The audit rdsbot switches on: every value checked when it is built, so statements may quote them."""

    audit_name: str
    specification_name: str
    max_size_mb: int
    action_groups: tuple[str, ...]

    def __post_init__(self) -> None:
        check_name("audit.server_audit.name", self.audit_name)
        check_name("audit.server_audit.name", self.specification_name)
        check_max_size("audit.server_audit.max_size_mb", self.max_size_mb)
        if not self.action_groups:
            raise RequestError("audit.server_audit.action_groups", "the list is empty", "name at least one group")
        for group in self.action_groups:
            if check_action_group("audit.server_audit.action_groups", group) != group:
                raise RequestError("audit.server_audit.action_groups", f"{group!r} must be upper case")


@dataclass(frozen=True)
class ServerAuditState:
    """What the status views say after finalize: the audit STARTED, writing where RDS collects, its specification on."""

    audit_name: str
    status: str  # sys.dm_server_audit_status.status_desc: STARTED or FAILED
    file_path: str  # the file the audit writes now
    specification_enabled: bool
    action_groups: tuple[str, ...]


def audit_file_extension(compression: bool) -> str:
    """The extension of the files RDS uploads: zip with ENABLE_COMPRESSION (the default), else sqlaudit."""
    return ".zip" if compression else ".sqlaudit"


def audit_link_text(extension: str) -> str:
    """How the completion message introduces the audit folder, so nobody looks for the wrong files."""
    if extension == ".zip":
        return "SQL Server audit logs (.zip, ENABLE_COMPRESSION on; unzip for .sqlaudit)"
    return "SQL Server audit logs (.sqlaudit files)"
