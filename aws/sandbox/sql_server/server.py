"""An emulated RDS SQL Server for the demo and end-to-end tests: the msdb.dbo.rds_* procedures, answered like RDS.

It accepts exactly what procedures.py sends (`exec msdb.dbo.rds_x @name=%s, ...` with bound values) and answers
with the same column names. Restore tasks go CREATED -> IN_PROGRESS -> SUCCESS on the given clock, at most two
at a time per instance (the rest wait in CREATED), and fail with RDS-like task_info when the backup object is
missing or the database already exists. Messages resemble RDS's; they are not verbatim copies. Given a
`reachable` check (reachability.py), a connection the instance's security groups do not admit times out.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aws.native_restore.procedures import (
    BACKUP_DATABASE,
    DATABASE_EXISTS,
    DATABASE_STATE,
    FINISH_RESTORE,
    RESTORE_DATABASE,
    RESTORE_LOG,
    TASK_STATUS,
)
from aws.native_restore.tde import RESTORE_TDE_CERTIFICATE
from aws.sandbox.backup_content import read_manifest, s3_objects_exist
from aws.sandbox.sql_server import tde_certificates
from aws.sandbox.sql_server.aws_view import AwsView, EndpointAwsView, MemoryAwsView, bucket_and_key, instance_region
from aws.sandbox.sql_server.connection import SandboxConnection
from aws.sandbox.sql_server.drill_checks import CHECK_STATEMENTS, answer_check, require_bound_strings
from aws.sandbox.sql_server.procedure_calls import MAX_FILES, check_signature, parse_call, short_name
from aws.sandbox.sql_server.reachability import SecurityGroupReachability
from aws.sandbox.sql_server.restore_procedures import OPTION_NOT_ENABLED, Procedures
from aws.sandbox.sql_server.results import ResultSet, SandboxSqlError, Session, SqlParam
from aws.sandbox.sql_server.server_audits import AUDIT_QUERIES, answer, is_audit_ddl, run_ddl
from aws.sandbox.sql_server.state_file import EmulatedInstance, EmulatorState, RestoreTask, SandboxCall, SharedState
from aws.sandbox.sql_server.task_lifecycle import advance
from aws.sandbox.sql_server.task_status import status_set
from bot.domain import InstanceState
from bot.role_needs import RestoreReadNeeds

MAX_RECORDED_CALLS = 10_000
EXPRESS_MAX_BYTES = 10 * 2**30
# The procedures the SQLSERVER_BACKUP_RESTORE option provides (rds_drop_database and rds_task_status are not its).
_NEED_BACKUP_RESTORE_OPTION = {RESTORE_DATABASE, RESTORE_LOG, FINISH_RESTORE, BACKUP_DATABASE}
_USE = re.compile(r"^\s*USE\s+\[?(?P<database>\w+)\]?\s*;?\s*$", re.I)


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
        aws: AwsView | None = None,
        region: str | None = None,
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
        # Objects, bucket regions, KMS keys and engines as RDS sees them when a task starts; backups write here.
        self.aws: AwsView = aws or MemoryAwsView()
        self.region = region

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
        self,
        instance: InstanceState,
        autocommit: bool,
        sql: str,
        params: Sequence[SqlParam],
        session: Session | None = None,
    ) -> list[ResultSet]:
        """Run one statement as the emulated server would, returning its result sets."""
        session = session or Session()
        check = CHECK_STATEMENTS.get(sql)
        if check is not None:
            return self._check(instance, check, params)
        if sql in (DATABASE_EXISTS, DATABASE_STATE):
            return self._database_exists(instance, params, state_desc=sql == DATABASE_STATE)
        if sql == tde_certificates.LIST_QUERY:
            with self._shared.open() as state:
                state.calls.append(SandboxCall("rds_fn_list_user_tde_certificates", {}))
                return tde_certificates.list_user_tde_certificates(self._instance_state(state, instance))
        if (use := _USE.match(sql)) is not None:
            return self._use(instance, session, use["database"])
        if sql in AUDIT_QUERIES or is_audit_ddl(sql):
            return self._server_audit(instance, session, sql, params)
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
            if procedure == TASK_STATUS:
                return [status_set(server, bound, now)]
            if procedure in _NEED_BACKUP_RESTORE_OPTION and not self.aws.backup_restore_enabled(instance):
                raise SandboxSqlError(50000, OPTION_NOT_ENABLED)
            if procedure == RESTORE_TDE_CERTIFICATE:
                if instance.option_group_status not in (None, "in-sync"):
                    raise SandboxSqlError(50000, OPTION_NOT_ENABLED)
                return tde_certificates.restore_tde_certificate(server, instance, bound, self.aws)
            sets = Procedures(server, instance, now, self.restore_seconds, self._backup_content).run(procedure, bound)
            if procedure in (RESTORE_DATABASE, RESTORE_LOG, BACKUP_DATABASE):
                # Read now, not when a status poll starts the task: the region and engine RDS checks it against.
                task = server.tasks[-1]
                task.region, task.engine = self.region or instance_region(instance), self.aws.engine(instance)
                if procedure != BACKUP_DATABASE:
                    task.role_denied = self._role_denied(instance, task.s3_arn)
            return sets

    def _use(self, instance: InstanceState, session: Session, database: str) -> list[ResultSet]:
        with self._shared.open() as state:
            state.calls.append(SandboxCall("use", {"database": database}))
            server = self._instance_state(state, instance)
            if database.casefold() not in {"master", "msdb"} and not server.has_database(database):
                raise SandboxSqlError(
                    911, f"Database '{database}' does not exist. Make sure that the name is entered correctly."
                )
            session.database = database
            return [ResultSet(None, [])]

    def _database_exists(
        self, instance: InstanceState, params: Sequence[SqlParam], *, state_desc: bool
    ) -> list[ResultSet]:
        """DB_ID(name), or sys.databases.state_desc: compared under the default case-insensitive collation, and a
        RESTORING database counts (its state_desc says RESTORING)."""
        if len(params) != 1 or not isinstance(params[0], str):
            raise SandboxSqlError(8144, "the database query takes 1 bound string")
        with self._shared.open() as state:
            state.calls.append(SandboxCall("database_state" if state_desc else "database_exists", {"name": params[0]}))
            server = self._instance_state(state, instance)
            restoring = server.is_restoring(params[0])
            found = server.has_database(params[0]) or restoring
            if state_desc:
                rows = [("RESTORING" if restoring else "ONLINE",)] if found else []
                return [ResultSet(("state_desc",), rows)]
            return [ResultSet(("database_found",), [(1 if found else 0,)])]

    def _server_audit(
        self, instance: InstanceState, session: Session, sql: str, params: Sequence[SqlParam]
    ) -> list[ResultSet]:
        """SQL Server Audit DDL and the views that show it (server_audits.py)."""
        with self._shared.open() as state:
            view = AUDIT_QUERIES.get(sql)
            state.calls.append(SandboxCall(f"audit:{view or 'ddl'}", {"sql": sql}))
            server = self._instance_state(state, instance)
            if view is not None:
                stamp_text = f"{int(self._clock())}"
                return [answer(server.server_audit, view, list(params), stamp_text)]
            if params:
                raise SandboxSqlError(0, "audit DDL takes no bound parameters")
            run_ddl(server.server_audit, sql, session.database)
            return [ResultSet(None, [])]

    def _instance_state(self, state: EmulatorState, instance: InstanceState) -> EmulatedInstance:
        server = state.instances.setdefault(
            instance.endpoint_address or "", EmulatedInstance(advanced_to=self._clock())
        )
        advance(self, server, self._clock())
        return server

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
            if values and server.is_restoring(values[0]):
                raise SandboxSqlError(
                    927, f"Database '{values[0]}' cannot be opened. It is in the middle of a restore."
                )
            restored = {name: server.contents.get(name, {}) for name in server.databases}
            return [answer_check(kind, values, restored)]

    def _role_denied(self, instance: InstanceState, s3_arn: str) -> str:
        """RDS reads every object of a restore as the role its option group's SQLSERVER_BACKUP_RESTORE names, which
        needs s3:GetObject on them and s3:ListBucket on the bucket (AWS guide
        "SQLServer.Procedural.Importing.Native.Enabling"); what it may not, "" when all (key policies: not modelled)."""
        bucket = bucket_and_key(s3_arn)[0]
        objects = tuple(f"arn:aws:s3:::{bucket}/{key}" for key, _ in self.aws.matched_objects(s3_arn))
        return "; ".join(self.aws.role_lacks(instance, RestoreReadNeeds(objects or (s3_arn,))))

    def start_failure(self, server: EmulatedInstance, task: RestoreTask) -> str | None:
        """What RDS checks of a restore's objects, key and instance when the task starts (AWS guide
        "SQLServer.Procedural.Importing": limitations and troubleshooting), in its words."""
        if not task.is_restore:
            return self._backup_start_failure(task)
        if task.role_denied:
            # What RDS's task_info says of an S3 AccessDenied; the sandbox adds what the role lacks.
            return (
                "Error making request with Error Code Forbidden and Http Status Code Forbidden. (sandbox) The IAM "
                f"role of SQLSERVER_BACKUP_RESTORE is not allowed {task.role_denied}."
            )
        files = self.aws.matched_objects(task.s3_arn)
        if len(files) > MAX_FILES:
            return (
                "The Restore task is unable to restore from more than 10 backup file(s). "
                "Please reduce the number of files matched and try again."
            )
        bucket_region = self.aws.bucket_region(bucket_and_key(task.s3_arn)[0])
        if task.region and bucket_region and bucket_region != task.region:
            return "Please specify a bucket that is in the same region as RDS instance"
        if task.kms_key_arn and (problem := self.aws.kms_key_problem(task.kms_key_arn)):
            return problem
        if task.engine == "sqlserver-ex" and sum(size for _, size in files) > EXPRESS_MAX_BYTES:
            # SQL Server message 1827: Express holds 10 GB per database (AWS guide: Express restores up to 10 GB).
            return (
                "CREATE DATABASE or ALTER DATABASE failed because the resulting cumulative database size would "
                "exceed your licensed limit of 10240 MB per database."
            )
        return None

    def _backup_start_failure(self, task: RestoreTask) -> str | None:
        """A backup's bucket must be in the instance's region and its KMS key usable (AWS guide
        "SQLServer.Procedural.Importing.Native.Using", backing up a database)."""
        bucket_region = self.aws.bucket_region(bucket_and_key(task.s3_arn)[0])
        if task.region and bucket_region and bucket_region != task.region:
            return "Please specify a bucket that is in the same region as RDS instance"
        if task.kms_key_arn and (problem := self.aws.kms_key_problem(task.kms_key_arn)):
            return problem
        return None


def embedded_sql_server(
    s3: Any,
    *,
    restore_seconds: float,
    state_path: Path | None,
    network: SecurityGroupReachability | None = None,
    region: str | None = None,
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
        aws=EndpointAwsView(region) if region else None,
        region=region,
    )
