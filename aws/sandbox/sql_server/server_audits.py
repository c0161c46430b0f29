"""SQL Server Audit as RDS runs it: CREATE/ALTER SERVER AUDIT [SPECIFICATION] parsed and checked, and the catalog
and status views the driver verifies with (sys.server_audits, sys.dm_server_audit_status,
sys.server_audit_specifications, sys.server_audit_specification_details), answered from the instance's state.

What RDS refuses comes from the AWS guide "Appendix.SQLServer.Options.Audit" ("Using SQL Server Audit": a binary
file in D:\\rdsdbdata\\SQLAudit, MAXSIZE 2 to 50 MB, no MAX_ROLLOVER_FILES or MAX_FILES, no shutdown on failure, at
most 50 audits, no RDS_ prefix on audits and specifications); RDS does not publish its wording, so those texts are
the sandbox's. What SQL Server refuses carries its documented number and text (Microsoft Learn, "Database engine
events and errors": 15530 exists, 33070 MAXSIZE under 2 MB, 33071 disable first, 33073 not found, 33074 not from
master), and an action group outside the documented list is a syntax error, as an unknown keyword is.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from aws.native_restore.server_audit import AUDIT_ROW, AUDIT_STATUS, SPECIFICATION_GROUPS, SPECIFICATION_ROW
from aws.sandbox.sql_server.results import ResultSet, SandboxSqlError, SqlParam
from bot import server_audit

# Query text -> view: the emulator knows each read by the exact text the driver sends, values bound.
AUDIT_QUERIES = {
    AUDIT_ROW: "audit",
    AUDIT_STATUS: "status",
    SPECIFICATION_ROW: "specification",
    SPECIFICATION_GROUPS: "groups",
}
_DDL = re.compile(r"^\s*(CREATE|ALTER)\s+SERVER\s+AUDIT\b", re.I)
_NAME = r"(?:\[(?P<{0}>[^\]]+)\]|(?P<{0}_bare>[A-Za-z_][A-Za-z0-9_]*))"
_CREATE_AUDIT = re.compile(
    rf"^\s*CREATE\s+SERVER\s+AUDIT\s+{_NAME.format('name')}\s+TO\s+(?P<target>FILE\s*\((?P<file>[^)]*)\)|\w+)"
    r"(?:\s+WITH\s*\((?P<with>[^)]*)\))?\s*;?\s*$",
    re.I | re.S,
)
_ALTER_AUDIT = re.compile(
    rf"^\s*ALTER\s+SERVER\s+AUDIT\s+{_NAME.format('name')}\s+WITH\s*\(\s*STATE\s*=\s*(?P<state>ON|OFF)\s*\)\s*;?\s*$",
    re.I,
)
_SPECIFICATION = re.compile(
    rf"^\s*(?P<verb>CREATE|ALTER)\s+SERVER\s+AUDIT\s+SPECIFICATION\s+{_NAME.format('name')}"
    rf"(?:\s+FOR\s+SERVER\s+AUDIT\s+{_NAME.format('audit')})?"
    r"(?P<actions>(?:\s*,?\s*(?:ADD|DROP)\s*\([^)]*\))*)"
    r"(?:\s+WITH\s*\(\s*STATE\s*=\s*(?P<state>ON|OFF)\s*\))?\s*;?\s*$",
    re.I,
)
_ACTION = re.compile(r"(ADD|DROP)\s*\(\s*([^)]*?)\s*\)", re.I)
_MAXSIZE = re.compile(r"^(?P<n>\d+)\s*(?P<unit>MB|GB|TB)$", re.I)
_MB = {"MB": 1, "GB": 1024, "TB": 1024 * 1024}


@dataclass
class EmulatedAudit:
    audit_id: int
    name: str
    guid: str
    max_size_mb: int
    enabled: bool = False


@dataclass
class EmulatedSpecification:
    specification_id: int
    name: str
    audit_name: str
    groups: list[str] = field(default_factory=list)
    enabled: bool = False


@dataclass
class AuditState:
    """One instance's audits and specifications, kept in the shared state file."""

    audits: list[EmulatedAudit] = field(default_factory=list)
    specifications: list[EmulatedSpecification] = field(default_factory=list)

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None) -> AuditState:
        raw = raw or {}
        return cls(
            audits=[EmulatedAudit(**a) for a in raw.get("audits", [])],
            specifications=[EmulatedSpecification(**s) for s in raw.get("specifications", [])],
        )

    def audit(self, name: str) -> EmulatedAudit | None:
        return next((a for a in self.audits if a.name.casefold() == name.casefold()), None)

    def specification(self, name: str) -> EmulatedSpecification | None:
        return next((s for s in self.specifications if s.name.casefold() == name.casefold()), None)


def is_audit_ddl(sql: str) -> bool:
    return bool(_DDL.match(sql))


def run_ddl(state: AuditState, sql: str, database: str) -> None:
    """Apply one CREATE/ALTER SERVER AUDIT [SPECIFICATION] as RDS SQL Server would, or raise its error."""
    is_specification = re.match(r"^\s*\w+\s+SERVER\s+AUDIT\s+SPECIFICATION\b", sql, re.I) is not None
    verb = sql.split(None, 1)[0].lower()
    if database.casefold() != "master":
        what = "server audit specification" if is_specification else "server audit"
        raise SandboxSqlError(
            33074,
            f"Cannot {verb} a {what} from a user database. This operation must be performed in the master database.",
        )
    if is_specification:
        _specification(state, sql)
    elif verb == "create":
        _create_audit(state, sql)
    else:
        _alter_audit(state, sql)


def _name(match: re.Match[str], group: str) -> str | None:
    return match[group] or match[f"{group}_bare"]


def _syntax(sql: str) -> SandboxSqlError:
    return SandboxSqlError(102, f"Incorrect syntax near '{sql.strip()[:40]}'.", severity=15)


def _not_reserved(name: str, what: str) -> None:
    if name.upper().startswith(server_audit.RESERVED_PREFIX):
        raise SandboxSqlError(50000, f"The {what} name '{name}' starts with RDS_, a prefix Amazon RDS reserves.")


def _options(text: str | None, sql: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for piece in (text or "").split(","):
        if not piece.strip():
            continue
        key, sep, value = piece.partition("=")
        if not sep:
            raise _syntax(piece)
        options[key.strip().upper()] = value.strip()
    return options


def _create_audit(state: AuditState, sql: str) -> None:
    match = _CREATE_AUDIT.match(sql)
    if match is None:
        raise _syntax(sql)
    name = _name(match, "name") or ""
    _not_reserved(name, "server audit")
    if match["file"] is None:
        raise SandboxSqlError(50000, f"Amazon RDS writes server audits only to a binary file, not {match['target']}.")
    file = _options(match["file"], sql)
    with_options = _options(match["with"], sql)
    path = file.get("FILEPATH", "").removeprefix("N").strip("'").rstrip("\\")
    if path.casefold() != server_audit.AUDIT_FILEPATH.casefold():
        raise SandboxSqlError(50000, f"FILEPATH must be {server_audit.AUDIT_FILEPATH} on Amazon RDS, not '{path}'.")
    if {"MAX_ROLLOVER_FILES", "MAX_FILES"} & file.keys():
        raise SandboxSqlError(50000, "MAX_ROLLOVER_FILES and MAX_FILES cannot be set on Amazon RDS.")
    if with_options.get("ON_FAILURE", "CONTINUE").upper() == "SHUTDOWN":
        raise SandboxSqlError(50000, "ON_FAILURE = SHUTDOWN is not allowed on Amazon RDS.")
    size = _MAXSIZE.match(file.get("MAXSIZE", ""))
    if size is None:
        raise SandboxSqlError(50000, "MAXSIZE must be set between 2 MB and 50 MB on Amazon RDS.")
    megabytes = int(size["n"]) * _MB[size["unit"].upper()]
    if megabytes < server_audit.MIN_MAXSIZE_MB:
        raise SandboxSqlError(
            33070,
            "The specified maximum size limit for the audit log file is less than the minimum value allowed. "
            "The maximum size limit must be at least 2 MB.",
        )
    if megabytes > server_audit.MAX_MAXSIZE_MB:
        raise SandboxSqlError(50000, f"MAXSIZE must be at most 50 MB on Amazon RDS, not {megabytes} MB.")
    if state.audit(name) is not None:
        raise SandboxSqlError(15530, f'The SERVER AUDIT with name "{name}" already exists.')
    if len(state.audits) >= server_audit.MAX_SERVER_AUDITS:
        raise SandboxSqlError(50000, "Amazon RDS supports at most 50 server audits per instance.")
    next_id = max((a.audit_id for a in state.audits), default=65535) + 1
    # Created disabled: "All audits are disabled when initially created" (SQL Server Audit Action Groups).
    state.audits.append(EmulatedAudit(next_id, name, str(uuid.uuid4()), megabytes))


def _alter_audit(state: AuditState, sql: str) -> None:
    match = _ALTER_AUDIT.match(sql)
    if match is None:
        raise _syntax(sql)
    name = _name(match, "name") or ""
    audit = state.audit(name)
    if audit is None:
        raise SandboxSqlError(33073, f"Cannot find server audit '{name}' or you do not have the required permissions.")
    audit.enabled = match["state"].upper() == "ON"


def _specification(state: AuditState, sql: str) -> None:
    match = _SPECIFICATION.match(sql)
    if match is None:
        raise _syntax(sql)
    name, audit_name = _name(match, "name") or "", _name(match, "audit")
    _not_reserved(name, "server audit specification")
    actions = [(verb.upper(), group.strip().upper()) for verb, group in _ACTION.findall(match["actions"] or "")]
    for _, group in actions:
        if group not in server_audit.SERVER_ACTION_GROUPS:
            raise SandboxSqlError(102, f"Incorrect syntax near '{group}'.", severity=15)
    if audit_name is not None and state.audit(audit_name) is None:
        raise SandboxSqlError(
            33073, f"Cannot find server audit '{audit_name}' or you do not have the required permissions."
        )
    found = state.specification(name)
    if match["verb"].upper() == "CREATE":
        if audit_name is None or any(verb == "DROP" for verb, _ in actions):
            raise _syntax(sql)
        if found is not None:
            raise SandboxSqlError(15530, f'The SERVER AUDIT SPECIFICATION with name "{name}" already exists.')
        next_id = max((s.specification_id for s in state.specifications), default=65535) + 1
        found = EmulatedSpecification(next_id, name, audit_name)
        state.specifications.append(found)
    elif found is None:
        raise SandboxSqlError(
            33073, f"Cannot find server audit specification '{name}' or you do not have the required permissions."
        )
    elif (actions or audit_name) and found.enabled:
        # ALTER SERVER AUDIT SPECIFICATION: "You must set the state ... to OFF to make changes".
        raise SandboxSqlError(
            33071,
            "This command requires server audit specification to be disabled. Disable the server audit "
            "specification and rerun this command.",
        )
    if audit_name is not None:
        found.audit_name = audit_name
    for verb, group in actions:
        if verb == "ADD" and group not in found.groups:
            found.groups.append(group)
        elif verb == "DROP" and group in found.groups:
            found.groups.remove(group)
    if match["state"]:
        found.enabled = match["state"].upper() == "ON"


def answer(state: AuditState, view: str, params: list[SqlParam], now_path: str) -> ResultSet:
    """One of the driver's reads, answered from the state; `now_path` names the file an enabled audit writes."""
    if len(params) != 1 or not isinstance(params[0], str):
        raise SandboxSqlError(8144, f"the {view} query takes one bound name")
    name = params[0]
    if view == "audit":
        audit = state.audit(name)
        return ResultSet(("name", "is_state_enabled"), [(audit.name, audit.enabled)] if audit else [])
    if view == "status":
        # sys.dm_server_audit_status has a row only for an audit that runs (its Extended Events session exists).
        audit = state.audit(name)
        if audit is None or not audit.enabled:
            return ResultSet(("status_desc", "audit_file_path"), [])
        path = f"{server_audit.AUDIT_FILEPATH}\\{audit.name}_{audit.guid}_0_{now_path}.sqlaudit"
        return ResultSet(("status_desc", "audit_file_path"), [("STARTED", path)])
    found = state.specification(name)
    if view == "specification":
        rows = [(found.name, found.enabled, found.audit_name)] if found else []
        return ResultSet(("name", "is_state_enabled", "audit_name"), rows)
    return ResultSet(("audit_action_name",), [(group,) for group in (found.groups if found else [])])
