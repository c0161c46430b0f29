"""NativeRestore over a DB-API connection: one code path whether the driver is python-tds or the sandbox."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from aws.native_restore import procedures, tde
from aws.native_restore.procedures import DbApiCursor, NativeRestoreError, SqlConnectionError, SqlValue, Statement
from bot.backup_target import BackupTarget
from bot.domain import InstanceState, TaskLifecycle, TaskStatus
from bot.errors import RdsbotError, RestoreTaskError
from bot.restore_chain import ChainStep
from bot.tde import TdeCertificate

log = logging.getLogger(__name__)


class DbApiConnection(Protocol):
    """The part of a DB-API 2.0 connection the client relies on."""

    autocommit: bool

    def cursor(self) -> DbApiCursor: ...

    def close(self) -> None: ...


Connect = Callable[[InstanceState], DbApiConnection]


class _ProcedureFailed(Exception):
    """The server answered a procedure call with an error; `text` is its message."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def driver_message(exc: BaseException) -> str:
    """The server's own words from a driver exception, without the driver's tuple or traceback dressing."""
    # pytds keeps the server's message in .text; str() of its exceptions is the repr of an args tuple.
    text = getattr(exc, "text", None)
    if isinstance(text, str) and text.strip():
        return text.strip()
    if exc.args and isinstance(exc.args[0], str) and exc.args[0].strip():
        return exc.args[0].strip()
    return str(exc).strip() or type(exc).__name__


SQL_SERVER_PORT = 1433


def unreachable_hint(instance: InstanceState) -> str:
    """What to check when the endpoint does not answer: a blocked port looks like a timeout, not like a refusal."""
    port = instance.endpoint_port or SQL_SERVER_PORT
    ids = instance.security_group_ids
    groups = f"security group{'s' if len(ids) > 1 else ''} {', '.join(ids)}" if ids else "the instance's security group"
    return f"check that {groups} admits tcp/{port} from where rdsbot runs (network.bot_sources)"


def connection_failure(instance: InstanceState, exc: BaseException) -> str:
    """Why a connection to the instance failed, in the driver's words, with the security group to check."""
    text = f"cannot connect to SQL Server on {instance.instance_id}: {driver_message(exc)}"
    return f"{text}; {unreachable_hint(instance)}" if isinstance(exc, OSError) else text


class SqlNativeRestore:
    """The NativeRestore port: msdb.dbo.rds_* calls through `connect`, one short-lived connection per call."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def start_restore(
        self, instance: InstanceState, database_name: str, s3_arn: str, kms_key_arn: str | None = None
    ) -> int:
        """Start rds_restore_database and return its task id; a refusal becomes RestoreTaskError in plain words."""
        statement = procedures.restore_database(database_name, s3_arn, kms_key_arn=kms_key_arn)
        try:
            rows = self._run(instance, statement)
        except _ProcedureFailed as exc:
            reason = procedures.task_failure_reason(exc.text, database_name=database_name, s3_arn=s3_arn)
            raise RestoreTaskError(
                f"rds_restore_database refused on {instance.instance_id}: {reason}", exc.text
            ) from None
        task_id = procedures.task_id_from_rows(rows)
        log.info("restore task started", extra={"instance": instance.instance_id, "task_id": task_id})
        return task_id

    def start_task(self, instance: InstanceState, statement: Statement) -> int:
        """Start any task-making procedure (restore_log, finish_restore, backup_database, restore_database with
        chain options) built in procedures.py, and return its task id; a refusal in plain words."""
        try:
            rows = self._run(instance, statement)
        except _ProcedureFailed as exc:
            name = statement.procedure.rsplit(".", 1)[-1]
            reason = procedures.task_failure_reason(exc.text)
            raise RestoreTaskError(f"{name} refused on {instance.instance_id}: {reason}", exc.text) from None
        return procedures.task_id_from_rows(rows)

    def start_chain_step(
        self, instance: InstanceState, database_name: str, step: ChainStep, kms_key_arn: str | None = None
    ) -> int:
        """One step of a restore chain, WITH NORECOVERY until rds_finish_restore opens the database."""
        return self.start_task(instance, procedures.chain_statement(database_name, step, kms_key_arn))

    def tasks_for(self, instance: InstanceState, database_name: str) -> list[TaskStatus]:
        """Every task rds_task_status lists for that database (names compare case-insensitively, as RDS's do)."""
        rows = self._run_or_raise(instance, procedures.task_status_by_database(database_name))
        wanted = database_name.casefold()
        return [s for s in map(procedures.task_status_from_row, rows) if s.database_name.casefold() == wanted]

    def drop_database(self, instance: InstanceState, database_name: str) -> None:
        """rds_drop_database, e.g. a database a NORECOVERY chain left RESTORING."""
        self._run_or_raise(instance, procedures.drop_database(database_name))

    def user_tde_certificates(self, instance: InstanceState) -> dict[str, str]:
        """Name -> thumbprint of the user TDE certificates the instance holds (rds_fn_list_user_tde_certificates())."""
        rows = self._query(instance, tde.LIST_USER_TDE_CERTIFICATES, (), "list TDE certificates")
        return {str(row.get("certificate_name")): _thumbprint(row.get("thumbprint")) for row in rows}

    def restore_tde_certificate(self, instance: InstanceState, certificate: TdeCertificate) -> None:
        """rds_restore_tde_certificate; a refusal becomes RestoreTaskError with the server's words."""
        try:
            self._run(instance, tde.restore_tde_certificate(certificate))
        except _ProcedureFailed as exc:
            raise RestoreTaskError(
                f"rds_restore_tde_certificate refused on {instance.instance_id}: {exc.text}", exc.text
            ) from None
        log.info("TDE certificate restored", extra={"instance": instance.instance_id})

    def database_exists(self, instance: InstanceState, database_name: str) -> bool:
        """DB_ID under the server's collation: names differing only in case are the same database, as RDS's
        "Database ... already exists" check finds them; a database left RESTORING has an id too."""
        rows = self._query(instance, procedures.DATABASE_EXISTS, (database_name,), f"look for {database_name}")
        return bool(rows and int(rows[0].get("database_found") or 0))

    def database_state(self, instance: InstanceState, database_name: str) -> str | None:
        """sys.databases.state_desc (ONLINE, RESTORING, ...), the name compared under the server's collation."""
        rows = self._query(instance, procedures.DATABASE_STATE, (database_name,), f"read the state of {database_name}")
        return str(rows[0]["state_desc"]) if rows else None

    def start_backup(
        self, instance: InstanceState, database_name: str, target: BackupTarget, kms_key_arn: str | None
    ) -> int:
        """rds_backup_database to the target; a refusal in plain words."""
        statement = procedures.backup_database(
            database_name,
            target.s3_arn,
            kms_key_arn=kms_key_arn,
            overwrite=target.overwrite,
            backup_type=procedures.RestoreType(target.backup_type.value),
            number_of_files=target.files,
        )
        task_id = self.start_task(instance, statement)
        log.info("backup task started", extra={"instance": instance.instance_id, "task_id": task_id})
        return task_id

    def _query(
        self, instance: InstanceState, sql: str, values: tuple[SqlValue, ...], what: str
    ) -> list[dict[str, Any]]:
        """A query that is no procedure, its values bound; NativeRestoreError in the server's words."""
        connection = open_connection(self._connect, instance)
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, values)
                return procedures.first_rows(cursor)
            finally:
                quietly(cursor.close)
        except Exception as exc:  # every driver has its own exception tree; the server's words are what matter
            raise NativeRestoreError(f"cannot {what} on {instance.instance_id}: {driver_message(exc)}") from None
        finally:
            quietly(connection.close)

    def find_task(self, instance: InstanceState, database_name: str) -> TaskStatus | None:
        """The newest restore task for that database, so a resumed job never starts a second one."""
        rows = self._run_or_raise(instance, procedures.task_status_by_database(database_name))
        wanted = database_name.casefold()
        # SQL Server names compare case-insensitively under the default collation, as RDS's own lookup does.
        restores = [
            status
            for status in map(procedures.task_status_from_row, rows)
            if status.task_type.upper().startswith("RESTORE_DB") and status.database_name.casefold() == wanted
        ]
        return max(restores, key=lambda status: status.task_id, default=None)

    def task_status(self, instance: InstanceState, task_id: int) -> TaskStatus:
        """The task's lifecycle and progress."""
        rows = self._run_or_raise(instance, procedures.task_status_by_id(task_id))
        for status in map(procedures.task_status_from_row, rows):
            if status.task_id == task_id:
                if status.lifecycle in (TaskLifecycle.ERROR, TaskLifecycle.CANCELLED):
                    return status.model_copy(update={"reason": procedures.status_failure_reason(status)})
                return status
        raise NativeRestoreError(
            f"no task {task_id} on {instance.instance_id}; RDS keeps task history for 36 days on the same instance"
        )

    def cancel(self, instance: InstanceState, task_id: int) -> None:
        """Ask RDS to cancel the task; it moves to CANCEL_REQUESTED, then CANCELLED."""
        self._run_or_raise(instance, procedures.cancel_task(task_id))
        log.info("restore task cancel requested", extra={"instance": instance.instance_id, "task_id": task_id})

    def _run_or_raise(self, instance: InstanceState, statement: Statement) -> list[dict[str, Any]]:
        try:
            return self._run(instance, statement)
        except _ProcedureFailed as exc:
            # The server's own words: task_failure_reason reads restore failures, not status or cancel refusals.
            name = statement.procedure.rsplit(".", 1)[-1]
            raise NativeRestoreError(f"{name} failed on {instance.instance_id}: {exc.text}") from None

    def _run(self, instance: InstanceState, statement: Statement) -> list[dict[str, Any]]:
        connection = open_connection(self._connect, instance)
        try:
            cursor = connection.cursor()
            try:
                log.debug("exec %s on %s", statement.procedure, instance.instance_id)
                statement.run(cursor)
                return procedures.first_rows(cursor)
            finally:
                quietly(cursor.close)
        except Exception as exc:  # every driver has its own exception tree; the server's words are what matter
            raise _ProcedureFailed(driver_message(exc)) from exc
        finally:
            quietly(connection.close)


def _thumbprint(value: object) -> str:
    """varbinary arrives as bytes through python-tds, as text in the sandbox: 0x and upper-case hex either way."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex().upper()
    text = str(value or "").replace(" ", "").upper()
    return "0x" + text[2:] if text.startswith("0X") else text


def open_connection(connect: Connect, instance: InstanceState) -> DbApiConnection:
    """A connection in autocommit, or SqlConnectionError naming what to check; never the driver's chained error."""
    try:
        connection = connect(instance)
    except RdsbotError:
        raise
    except Exception as exc:
        # from None: a driver's chained exception may quote the login it was given.
        raise SqlConnectionError(connection_failure(instance, exc)) from None
    if not connection.autocommit:
        try:
            # The rds_ procedures refuse to run inside a transaction, and DB-API opens one unless autocommit is on.
            connection.autocommit = True
        except Exception as exc:
            quietly(connection.close)
            raise SqlConnectionError(
                f"cannot switch the connection to {instance.instance_id} to autocommit: {driver_message(exc)}"
            ) from None
    return connection


def quietly(close: Callable[[], None]) -> None:
    try:
        close()
    except Exception:  # a failed close after the answer is read changes nothing for the caller
        log.debug("close failed", exc_info=True)
