"""An emulated RDS SQL Server for the demo and end-to-end tests: the msdb.dbo.rds_* procedures, answered like RDS.

It accepts exactly what procedures.py sends (`exec msdb.dbo.rds_x @name=%s, ...` with bound values) and answers
with the same column names. Restore tasks go CREATED -> IN_PROGRESS -> SUCCESS on the given clock, at most two
at a time per instance (the rest wait in CREATED), and fail with RDS-like task_info when the backup object is
missing or the database already exists. Messages resemble RDS's; they are not verbatim copies. Given a
`reachable` check (reachability.py), a connection the instance's security groups do not admit times out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aws.native_restore.procedures import RESTORE_DATABASE, TASK_STATUS
from aws.sandbox.backup_content import read_manifest, s3_objects_exist
from aws.sandbox.sql_server.connection import SandboxConnection
from aws.sandbox.sql_server.drill_checks import CHECK_STATEMENTS, answer_check, require_bound_strings
from aws.sandbox.sql_server.procedure_calls import bound_int, bound_text, check_signature, parse_call, short_name
from aws.sandbox.sql_server.reachability import SecurityGroupReachability
from aws.sandbox.sql_server.results import ResultSet, SandboxSqlError, SqlParam
from aws.sandbox.sql_server.state_file import EmulatedInstance, RestoreTask, SandboxCall, SharedState
from aws.sandbox.sql_server.task_lifecycle import advance
from aws.sandbox.sql_server.task_status import STATUS_COLUMNS, stamp, status_row, status_set
from bot.domain import InstanceState, TaskLifecycle

MAX_RECORDED_CALLS = 10_000


class SandboxSqlServer:
    """Every emulated RDS SQL Server instance, keyed by endpoint address; optionally shared through a JSON file."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        restore_seconds: float = 30.0,
        start_delay_seconds: float = 1.0,
        cancel_seconds: float = 1.0,
        object_exists: Callable[[str], bool] = lambda s3_arn: True,
        state_path: Path | None = None,
        max_concurrent_tasks: int = 2,
        backup_content: Callable[[str], dict[str, Any] | None] = lambda s3_arn: None,
        reachable: Callable[[InstanceState], None] | None = None,
    ) -> None:
        # time.time by default: a state file shared by two processes needs one timeline.
        self._clock = clock
        self.restore_seconds = restore_seconds
        self.start_delay_seconds = start_delay_seconds
        self.cancel_seconds = cancel_seconds
        self._object_exists = object_exists
        self._backup_content = backup_content
        self.max_concurrent_tasks = max_concurrent_tasks
        self._shared = SharedState(state_path)
        # None: every instance is reachable (unit tests of the procedures); else it raises as a blocked port would.
        self._reachable = reachable

    def connect(self, instance: InstanceState) -> SandboxConnection:
        """A DB-API-like connection to the instance's emulated server (autocommit on, as the tds driver opens it)."""
        if not instance.endpoint_address:
            raise ConnectionRefusedError(f"instance {instance.instance_id} has no endpoint yet")
        if self._reachable is not None:
            self._reachable(instance)
        return SandboxConnection(self, instance)

    @property
    def calls(self) -> list[SandboxCall]:
        """Every statement executed, in order, by any process sharing the state file."""
        with self._shared.open() as state:
            return list(state.calls)

    def databases(self, endpoint_address: str) -> set[str]:
        """Names of the databases restored on that instance."""
        with self._shared.open() as state:
            instance = state.instances.get(endpoint_address)
            if instance is None:
                return set()
            advance(self, instance, self._clock())
            return set(instance.databases)

    def backup_exists(self, s3_arn: str) -> bool:
        """What RDS checks when a restore task starts."""
        return self._object_exists(s3_arn)

    # The server side of a cursor's execute.

    def execute(
        self, instance: InstanceState, autocommit: bool, sql: str, params: Sequence[SqlParam]
    ) -> list[ResultSet]:
        """Run one statement as the emulated server would, returning its result sets."""
        check = CHECK_STATEMENTS.get(sql)
        if check is not None:
            return self._check(instance, check, params)
        procedure, bound = parse_call(sql, params)
        with self._shared.open() as state:
            state.calls.append(SandboxCall(procedure, bound))
            # Bounded so a demo left running does not rewrite an ever-growing file on every poll.
            del state.calls[:-MAX_RECORDED_CALLS]
            check_signature(procedure, bound)
            if not autocommit:
                raise SandboxSqlError(50000, f"{short_name(procedure)} cannot run inside a user transaction.")
            endpoint = instance.endpoint_address or ""
            server = state.instances.setdefault(endpoint, EmulatedInstance(advanced_to=self._clock()))
            now = self._clock()
            advance(self, server, now)
            if procedure == RESTORE_DATABASE:
                return self._restore_database(instance, server, bound, now)
            if procedure == TASK_STATUS:
                return [status_set(server, bound, now)]
            return self._cancel_task(server, bound, now)

    def _check(self, instance: InstanceState, kind: str, params: Sequence[SqlParam]) -> list[ResultSet]:
        """A drill's validation query, answered from the manifests of the databases restored here."""
        values = [str(value) for value in params]
        with self._shared.open() as state:
            state.calls.append(SandboxCall(f"check:{kind}", {f"p{i}": v for i, v in enumerate(values, 1)}))
            require_bound_strings(kind, params)
            server = state.instances.setdefault(
                instance.endpoint_address or "", EmulatedInstance(advanced_to=self._clock())
            )
            advance(self, server, self._clock())
            restored = {name: server.contents.get(name, {}) for name in server.databases}
            return [answer_check(kind, values, restored)]

    def _restore_database(
        self, instance: InstanceState, server: EmulatedInstance, bound: dict[str, SqlParam], now: float
    ) -> list[ResultSet]:
        if instance.option_group_status not in (None, "in-sync"):
            raise SandboxSqlError(
                50000,
                "Database backup/restore option is not enabled yet or is in the process of being enabled. "
                "Please try again later.",
            )
        name = bound_text(bound, "restore_db_name")
        s3_arn = bound_text(bound, "s3_arn_to_restore_from")
        if not s3_arn.startswith("arn:aws") or ":s3:::" not in s3_arn:
            raise SandboxSqlError(50000, f"The S3 ARN '{s3_arn}' is not valid.")
        restore_type = str(bound.get("type") or "FULL").upper()
        if restore_type not in ("FULL", "DIFFERENTIAL"):
            raise SandboxSqlError(50000, f"Invalid @type '{restore_type}'; use FULL or DIFFERENTIAL.")
        kms = bound.get("kms_master_key_arn")
        task = RestoreTask(
            task_id=server.next_task_id,
            database_name=name,
            s3_arn=s3_arn,
            kms_key_arn=str(kms) if kms else None,
            created_at=now,
            restore_seconds=self.restore_seconds,
            last_updated=now,
            # Read here, not when the task starts: a status poll must not wait on S3.
            content=self._backup_content(s3_arn),
        )
        server.next_task_id += 1
        server.tasks.append(task)
        # An empty set first: real procedures may answer in several sets, and the client must walk past it.
        return [ResultSet(("task_id",), []), ResultSet(STATUS_COLUMNS, [status_row(task, now)])]

    def _cancel_task(self, server: EmulatedInstance, bound: dict[str, SqlParam], now: float) -> list[ResultSet]:
        task_id = bound_int(bound, "task_id")
        task = next((t for t in server.tasks if t.task_id == task_id), None)
        if task is None:
            raise SandboxSqlError(50000, f"Task id {task_id} does not exist.")
        if task.lifecycle in (TaskLifecycle.CREATED, TaskLifecycle.IN_PROGRESS):
            task.lifecycle = TaskLifecycle.CANCEL_REQUESTED.value
            task.cancel_requested_at = now
            task.last_updated = now
            task.info.append(stamp(now, "Task cancellation was requested."))
        # Cancelling a finished or already cancelling task changes nothing, so a retried cancel is harmless.
        return [ResultSet(None, [])]


def embedded_sql_server(
    s3: Any,
    *,
    restore_seconds: float,
    state_path: Path | None,
    network: SecurityGroupReachability | None = None,
) -> SandboxSqlServer:
    """The emulator as the bot runs it: backups checked and read through `s3`, tasks starting after a tenth of the
    restore time (one second at most), state in `state_path` so a restarted bot finds its tasks, connections
    admitted only where `network` says the instance's security groups let the bot in."""
    return SandboxSqlServer(
        restore_seconds=restore_seconds,
        start_delay_seconds=min(1.0, restore_seconds / 10),
        object_exists=lambda arn: s3_objects_exist(s3, arn),
        backup_content=lambda arn: read_manifest(s3, arn),
        state_path=state_path,
        reachable=network.check if network is not None else None,
    )
