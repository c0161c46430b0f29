"""The native backup and restore procedures as RDS answers a call: the refusals it gives at once, and the task it
records otherwise (AWS guide "SQLServer.Procedural.Importing.Native.Using"). What fails only once a task starts
(the backup missing, more than 10 files, another region, the KMS key, the name taken, Express over 10 GB) is in
task_lifecycle.py.

The task type follows the procedure, @type and @with_norecovery (rds_task_status, "task_type"); a NORECOVERY
restore leaves the database RESTORING until rds_restore_log with RECOVERY or rds_finish_restore opens it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws.native_restore import procedures as rds
from aws.sandbox.sql_server.procedure_calls import bound_int, bound_text
from aws.sandbox.sql_server.results import ResultSet, SandboxSqlError, SqlParam
from aws.sandbox.sql_server.state_file import EmulatedInstance, RestoreTask
from aws.sandbox.sql_server.task_status import STATUS_COLUMNS, stamp, status_row
from bot.domain import InstanceState, TaskLifecycle

OPTION_NOT_ENABLED = (
    "Database backup/restore option is not enabled yet or is in the process of being enabled. Please try again later."
)


class Procedures:
    """One call of a native backup/restore procedure on one emulated instance, at `now`."""

    def __init__(
        self,
        server: EmulatedInstance,
        instance: InstanceState,
        now: float,
        seconds: float,
        backup_content: Callable[[str], dict[str, Any] | None],
    ) -> None:
        self._server = server
        self._instance = instance
        self._now = now
        self._seconds = seconds
        self._backup_content = backup_content

    def run(self, procedure: str, bound: dict[str, SqlParam]) -> list[ResultSet]:
        if procedure == rds.CANCEL_TASK:
            return self._cancel(bound_int(bound, "task_id"))
        if self._instance.option_group_status not in (None, "in-sync"):
            raise SandboxSqlError(50000, OPTION_NOT_ENABLED)
        if procedure == rds.RESTORE_DATABASE:
            return self._restore(bound, log=False)
        if procedure == rds.RESTORE_LOG:
            return self._restore(bound, log=True)
        if procedure == rds.FINISH_RESTORE:
            return self._finish(bound_text(bound, "db_name"))
        if procedure == rds.DROP_DATABASE:
            return self._drop(bound_text(bound, "db_name"))
        if procedure == rds.BACKUP_DATABASE:
            return self._backup(bound)
        raise SandboxSqlError(2812, f"Could not find stored procedure '{procedure}'.")

    def _task(self, database: str, s3_arn: str, task_type: str, **fields: Any) -> list[ResultSet]:
        task = RestoreTask(
            task_id=self._server.next_task_id,
            database_name=database,
            s3_arn=s3_arn,
            kms_key_arn=fields.pop("kms_key_arn", None),
            created_at=self._now,
            restore_seconds=self._seconds,
            last_updated=self._now,
            task_type=task_type,
            **fields,
        )
        self._server.next_task_id += 1
        self._server.tasks.append(task)
        # An empty set first: real procedures may answer in several sets, and the client must walk past it.
        return [ResultSet(("task_id",), []), ResultSet(STATUS_COLUMNS, [status_row(task, self._now)])]

    def _restore(self, bound: dict[str, SqlParam], *, log: bool) -> list[ResultSet]:
        name = bound_text(bound, "restore_db_name")
        s3_arn = bound.get("s3_arn_to_restore_from")
        if not s3_arn:
            raise SandboxSqlError(50000, "S3 ARN prefix cannot be empty")
        s3_arn = str(s3_arn)
        if not s3_arn.startswith("arn:aws") or ":s3:::" not in s3_arn:
            raise SandboxSqlError(50000, f"The S3 ARN '{s3_arn}' is not valid.")
        differential = str(bound.get("type") or "FULL").upper() == "DIFFERENTIAL"
        if differential and bound.get("with_norecovery") is None:
            raise SandboxSqlError(50000, "@with_norecovery is required for a DIFFERENTIAL restore; specify 0 or 1.")
        # rds_restore_log defaults to NORECOVERY, rds_restore_database to RECOVERY.
        norecovery = bool(bound.get("with_norecovery", 1 if log else 0))
        if bound.get("keep_cdc") == 1 and norecovery and not (log or differential):
            raise SandboxSqlError(50000, "Full restores with both NORECOVERY and KEEP_CDC are not supported.")
        pending = self._server.pending_tasks(name)
        if any(t.is_restore and not t.norecovery for t in pending):
            raise SandboxSqlError(
                50000, f"A restore task with RECOVERY is already pending for database '{name}'; wait for it to end."
            )
        kind = "RESTORE_DB_LOG" if log else "RESTORE_DB_DIFFERENTIAL" if differential else "RESTORE_DB"
        if kind != "RESTORE_DB" and not (
            self._server.is_restoring(name) or any(t.is_restore and t.norecovery for t in pending)
        ):
            what = "log" if log else "differential"
            raise SandboxSqlError(
                50000,
                f"A {what} restore needs database '{name}' in the RESTORING state or a pending restore task "
                "with NORECOVERY.",
            )
        kms = bound.get("kms_master_key_arn")
        stopat = bound.get("stopat")
        return self._task(
            name,
            s3_arn,
            kind + ("_NORECOVERY" if norecovery else ""),
            kms_key_arn=str(kms) if kms else None,
            stopat=str(stopat) if stopat else None,
            # Read here, not when the task starts: a status poll must not wait on S3.
            content=self._backup_content(s3_arn),
        )

    def _finish(self, name: str) -> list[ResultSet]:
        if not self._server.is_restoring(name) or self._server.pending_tasks(name):
            raise SandboxSqlError(
                50000, f"Database '{name}' must be in the RESTORING state without pending restore tasks to finish it."
            )
        return self._task(name, "", "FINISH_RESTORE")

    def _drop(self, name: str) -> list[ResultSet]:
        if any(t.is_restore or t.task_type == "FINISH_RESTORE" for t in self._server.pending_tasks(name)):
            raise SandboxSqlError(
                50000, f"Database '{name}' has a pending restore or finish restore task; it cannot be dropped now."
            )
        if not self._server.has_database(name):
            raise SandboxSqlError(3701, f"Cannot drop the database '{name}', because it does not exist.")
        self._server.drop(name)
        return [ResultSet(None, [])]

    def _backup(self, bound: dict[str, SqlParam]) -> list[ResultSet]:
        name = bound_text(bound, "source_db_name")
        s3_arn = bound_text(bound, "s3_arn_to_backup_to")
        if not self._server.has_database(name) or self._server.is_restoring(name):
            raise SandboxSqlError(50000, f"Database '{name}' does not exist or is not online; nothing to back up.")
        files = int(bound.get("number_of_files") or 1)
        if files > 1 and s3_arn.rsplit("/", 1)[-1].count("*") != 1:
            raise SandboxSqlError(50000, "A multifile backup needs exactly one asterisk (*) in the file name.")
        differential = str(bound.get("type") or "FULL").upper() == "DIFFERENTIAL"
        kms = bound.get("kms_master_key_arn")
        return self._task(
            name,
            s3_arn,
            "BACKUP_DB_DIFFERENTIAL" if differential else "BACKUP_DB",
            kms_key_arn=str(kms) if kms else None,
            overwrite_s3_backup_file=int(bound.get("overwrite_s3_backup_file") or 0),
            number_of_files=files,
        )

    def _cancel(self, task_id: int) -> list[ResultSet]:
        task = next((t for t in self._server.tasks if t.task_id == task_id), None)
        if task is None:
            raise SandboxSqlError(50000, f"Task id {task_id} does not exist.")
        if task.task_type == "FINISH_RESTORE":
            # AWS guide: "You can't cancel a FINISH_RESTORE task."
            raise SandboxSqlError(50000, f"Task {task_id} is a FINISH_RESTORE task, which cannot be cancelled.")
        if task.lifecycle in (TaskLifecycle.CREATED, TaskLifecycle.IN_PROGRESS):
            task.lifecycle = TaskLifecycle.CANCEL_REQUESTED.value
            task.cancel_requested_at = self._now
            task.last_updated = self._now
            task.info.append(stamp(self._now, "Task cancellation was requested."))
        # Cancelling a finished or already cancelling task changes nothing, so a retried cancel is harmless.
        return [ResultSet(None, [])]
