"""SQL Server Audit switched on inside a restored instance: the server audit RDS ships files from, its server audit
specification, both enabled and then read back from the status views.

DDL takes no bound parameters, so the only text that reaches a statement is a ServerAuditSpec's: names checked by
fullmatch and bracket-quoted, action groups from the documented list, MAXSIZE an int, FILEPATH a constant. Every
look-up binds its value. Each step looks before it acts, so a retry after a crash between CREATE and ALTER finds
what the first attempt made and finishes it (Microsoft Learn: CREATE/ALTER SERVER AUDIT, CREATE/ALTER SERVER AUDIT
SPECIFICATION; sys.server_audits, sys.dm_server_audit_status, sys.server_audit_specifications, ..._details).
"""

from __future__ import annotations

import logging
from typing import Any

from aws.native_restore.client import Connect, driver_message, open_connection, quietly
from aws.native_restore.procedures import DbApiCursor, NativeRestoreError, SqlValue, first_rows
from bot import server_audit
from bot.domain import InstanceState
from bot.errors import RdsbotError
from bot.server_audit import ServerAuditSpec, ServerAuditState

log = logging.getLogger(__name__)

# Server audit DDL runs in master: from another database SQL Server answers message 33074.
USE_MASTER = "USE [master]"
AUDIT_ROW = "select name, is_state_enabled from sys.server_audits where name = %s"
AUDIT_STATUS = "select status_desc, audit_file_path from sys.dm_server_audit_status where name = %s"
SPECIFICATION_ROW = (
    "select s.name, s.is_state_enabled, a.name as audit_name from sys.server_audit_specifications s "
    "join sys.server_audits a on a.audit_guid = s.audit_guid where s.name = %s"
)
SPECIFICATION_GROUPS = (
    "select d.audit_action_name from sys.server_audit_specification_details d "
    "join sys.server_audit_specifications s on s.server_specification_id = d.server_specification_id "
    "where s.name = %s"
)
STARTED = "STARTED"


def quoted(name: str) -> str:
    """A checked name as a bracket-quoted identifier; a `]` would be doubled, though check_name admits none."""
    server_audit.check_name("audit.server_audit.name", name)
    return "[" + name.replace("]", "]]") + "]"


def create_audit(spec: ServerAuditSpec) -> str:
    """CREATE SERVER AUDIT to a binary file where RDS collects it; CONTINUE on failure, as RDS requires."""
    size = server_audit.check_max_size("audit.server_audit.max_size_mb", int(spec.max_size_mb))
    return (
        f"CREATE SERVER AUDIT {quoted(spec.audit_name)} TO FILE (FILEPATH = N'{server_audit.AUDIT_FILEPATH}', "
        f"MAXSIZE = {size} MB) WITH (ON_FAILURE = CONTINUE)"
    )


def set_audit_state(spec: ServerAuditSpec, on: bool) -> str:
    return f"ALTER SERVER AUDIT {quoted(spec.audit_name)} WITH (STATE = {'ON' if on else 'OFF'})"


def _groups(groups: tuple[str, ...] | list[str], verb: str) -> str:
    checked = [server_audit.check_action_group("audit.server_audit.action_groups", g) for g in groups]
    return ", ".join(f"{verb} ({group})" for group in checked)


def create_specification(spec: ServerAuditSpec) -> str:
    """CREATE SERVER AUDIT SPECIFICATION for the audit with every action group, switched on in the same statement."""
    return (
        f"CREATE SERVER AUDIT SPECIFICATION {quoted(spec.specification_name)} FOR SERVER AUDIT "
        f"{quoted(spec.audit_name)} {_groups(spec.action_groups, 'ADD')} WITH (STATE = ON)"
    )


def set_specification_state(spec: ServerAuditSpec, on: bool) -> str:
    return f"ALTER SERVER AUDIT SPECIFICATION {quoted(spec.specification_name)} WITH (STATE = {'ON' if on else 'OFF'})"


def change_specification(spec: ServerAuditSpec, add: list[str], drop: list[str]) -> str:
    """Bring the groups in line; SQL Server allows it only while the specification is off (message 33071)."""
    changes = ", ".join(part for part in (_groups(add, "ADD"), _groups(drop, "DROP")) if part)
    return f"ALTER SERVER AUDIT SPECIFICATION {quoted(spec.specification_name)} {changes}"


class SqlServerAudit:
    """The ServerAuditGateway port over the same DB-API connections as SqlNativeRestore."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def ensure_server_audit(self, instance: InstanceState, spec: ServerAuditSpec) -> ServerAuditState:
        """Create what is missing, switch both on, and return the status views' answer; STARTED or an error."""
        connection = open_connection(self._connect, instance)
        try:
            cursor = connection.cursor()
            try:
                return _Session(cursor).ensure(spec, instance.instance_id)
            finally:
                quietly(cursor.close)
        except RdsbotError:
            raise
        except Exception as exc:  # the driver's own exception tree; the server's words are what matter
            raise NativeRestoreError(
                f"SQL Server Audit on {instance.instance_id} failed: {driver_message(exc)}"
            ) from None
        finally:
            quietly(connection.close)


class _Session:
    """One connection's statements, in master."""

    def __init__(self, cursor: DbApiCursor) -> None:
        self._cursor = cursor
        self._run(USE_MASTER)

    def _run(self, sql: str, *values: SqlValue) -> None:
        log.debug("sql: %s", sql)
        self._cursor.execute(sql, values)

    def _rows(self, sql: str, *values: SqlValue) -> list[dict[str, Any]]:
        self._run(sql, *values)
        return first_rows(self._cursor)

    def ensure(self, spec: ServerAuditSpec, instance_id: str) -> ServerAuditState:
        audit = self._rows(AUDIT_ROW, spec.audit_name)
        if not audit:
            self._run(create_audit(spec))
            log.info("created server audit", extra={"instance": instance_id, "audit": spec.audit_name})
        if not audit or not audit[0].get("is_state_enabled"):
            self._run(set_audit_state(spec, on=True))
        self._ensure_specification(spec)
        return self._verify(spec, instance_id)

    def _ensure_specification(self, spec: ServerAuditSpec) -> None:
        found = self._rows(SPECIFICATION_ROW, spec.specification_name)
        if not found:
            self._run(create_specification(spec))
            return
        if str(found[0].get("audit_name") or "").casefold() != spec.audit_name.casefold():
            raise NativeRestoreError(
                f"server audit specification {spec.specification_name} belongs to audit {found[0].get('audit_name')}, "
                f"not {spec.audit_name}; drop it or name another audit in audit.server_audit.name"
            )
        current = self._groups(spec)
        add = [g for g in spec.action_groups if g not in current]
        drop = sorted(current - set(spec.action_groups))
        enabled = bool(found[0].get("is_state_enabled"))
        if add or drop:
            if enabled:
                self._run(set_specification_state(spec, on=False))
            self._run(change_specification(spec, add, drop))
            enabled = False
        if not enabled:
            self._run(set_specification_state(spec, on=True))

    def _groups(self, spec: ServerAuditSpec) -> set[str]:
        rows = self._rows(SPECIFICATION_GROUPS, spec.specification_name)
        return {str(row.get("audit_action_name") or "").strip().upper() for row in rows}

    def _verify(self, spec: ServerAuditSpec, instance_id: str) -> ServerAuditState:
        status = self._rows(AUDIT_STATUS, spec.audit_name)
        state = str(status[0].get("status_desc") or "") if status else "not started"
        path = str(status[0].get("audit_file_path") or "") if status else ""
        where = f"server audit {spec.audit_name} on {instance_id}"
        if state != STARTED:
            raise NativeRestoreError(f"{where} is {state}, not STARTED; check sys.dm_server_audit_status")
        if not path.casefold().startswith(server_audit.AUDIT_FILEPATH.casefold() + "\\"):
            raise NativeRestoreError(
                f"{where} writes to {path}, not under {server_audit.AUDIT_FILEPATH}; RDS ships no file from there"
            )
        found = self._rows(SPECIFICATION_ROW, spec.specification_name)
        groups = self._groups(spec)
        if not found or not found[0].get("is_state_enabled") or groups != set(spec.action_groups):
            raise NativeRestoreError(
                f"server audit specification {spec.specification_name} on {instance_id} is not on with "
                f"{', '.join(spec.action_groups)}; check sys.server_audit_specifications"
            )
        return ServerAuditState(
            audit_name=spec.audit_name,
            status=state,
            file_path=path,
            specification_enabled=True,
            action_groups=tuple(g for g in spec.action_groups if g in groups),
        )
