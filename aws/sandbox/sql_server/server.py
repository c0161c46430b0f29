"""An emulated RDS SQL Server for the demo and end-to-end tests: the msdb.dbo.rds_* procedures, answered like RDS.

It accepts exactly what procedures.py sends (`exec msdb.dbo.rds_x @name=%s, ...` with bound values) and answers
with the same column names. Restore tasks go CREATED -> IN_PROGRESS -> SUCCESS on the given clock, at most two
at a time per instance (the rest wait in CREATED), and fail with RDS-like task_info when the backup object is
missing or the database already exists. Messages resemble RDS's; they are not verbatim copies.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from aws.native_restore.checks import CHECK_STATEMENTS
from aws.native_restore.procedures import CANCEL_TASK, RESTORE_DATABASE, TASK_STATUS
from aws.sandbox import backup_content
from bot.domain import InstanceState, TaskLifecycle

SqlParam = str | int | None
MAX_RECORDED_CALLS = 10_000

STATUS_COLUMNS = (
    "task_id",
    "task_type",
    "database_name",
    "% complete",
    "duration (mins)",
    "lifecycle",
    "task_info",
    "last_updated",
    "created_at",
    "S3_object_arn",
    "overwrite_s3_backup_file",
    "KMS_master_key_arn",
)

# Drill check kind -> how many values its query binds.
CHECK_QUERY_PLACEHOLDERS = {kind: sql.count("%s") for sql, kind in CHECK_STATEMENTS.items()}

# name -> required; what each emulated procedure accepts.
_SIGNATURES: dict[str, dict[str, bool]] = {
    RESTORE_DATABASE: {
        "restore_db_name": True,
        "s3_arn_to_restore_from": True,
        "type": False,
        "with_norecovery": False,
        "kms_master_key_arn": False,
    },
    TASK_STATUS: {"task_id": False, "db_name": False},
    CANCEL_TASK: {"task_id": True},
}

_EXEC = re.compile(r"^\s*exec(?:ute)?\s+(?P<procedure>[\w.\[\]]+)(?P<args>(?:\s.*)?)$", re.I | re.S)
_BOUND_ARG = re.compile(r"^@(?P<name>\w+)\s*=\s*%s$")
_LITERAL_ARG = re.compile(r"^@(?P<name>\w+)\s*=")


class SandboxSqlError(Exception):
    """What the emulated server answers when a statement fails; `number` and `text` as python-tds exposes them."""

    def __init__(self, number: int, text: str, severity: int = 16) -> None:
        super().__init__(text)
        self.number = number
        self.text = text
        self.severity = severity

    def __str__(self) -> str:
        return f"SQL Server message {self.number}, severity {self.severity}: {self.text}"


class SandboxCall(NamedTuple):
    """One statement the server executed: the procedure and its bound parameters by name."""

    procedure: str
    params: dict[str, SqlParam]


@dataclass
class _Task:
    task_id: int
    database_name: str
    s3_arn: str
    kms_key_arn: str | None
    created_at: float
    restore_seconds: float
    lifecycle: str = TaskLifecycle.CREATED.value
    last_updated: float = 0.0
    started_at: float | None = None  # set once the task held one of the instance's two slots
    cancel_requested_at: float | None = None
    finished_at: float | None = None
    info: list[str] = field(default_factory=list)
    content: dict[str, Any] | None = None  # the backup's manifest, read when the task is created


@dataclass
class _Instance:
    next_task_id: int = 1
    databases: list[str] = field(default_factory=list)
    advanced_to: float = 0.0
    tasks: list[_Task] = field(default_factory=list)
    # Database name -> what it holds (tables, django_migrations), from its backup's manifest.
    contents: dict[str, dict[str, Any]] = field(default_factory=dict)

    def has_database(self, name: str) -> bool:
        # Default collations compare names case-insensitively, so "Sales" and "sales" collide.
        return name.casefold() in {db.casefold() for db in self.databases}


@dataclass
class _State:
    instances: dict[str, _Instance] = field(default_factory=dict)
    calls: list[SandboxCall] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "instances": {endpoint: asdict(instance) for endpoint, instance in self.instances.items()},
            "calls": [{"procedure": call.procedure, "params": call.params} for call in self.calls],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _State:
        instances = {
            endpoint: _Instance(
                next_task_id=raw["next_task_id"],
                databases=list(raw["databases"]),
                advanced_to=raw["advanced_to"],
                tasks=[_Task(**task) for task in raw["tasks"]],
                contents=dict(raw.get("contents", {})),
            )
            for endpoint, raw in data.get("instances", {}).items()
        }
        calls = [SandboxCall(call["procedure"], dict(call["params"])) for call in data.get("calls", [])]
        return cls(instances=instances, calls=calls)


class _ResultSet(NamedTuple):
    columns: tuple[str, ...] | None
    rows: list[tuple[Any, ...]]


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
    ) -> None:
        # time.time by default: a state file shared by two processes needs one timeline.
        self._clock = clock
        self.restore_seconds = restore_seconds
        self.start_delay_seconds = start_delay_seconds
        self.cancel_seconds = cancel_seconds
        self._object_exists = object_exists
        self._backup_content = backup_content
        self._state_path = state_path
        self.max_concurrent_tasks = max_concurrent_tasks
        self._lock = threading.Lock()
        self._memory = _State()

    def connect(self, instance: InstanceState) -> SandboxConnection:
        """A DB-API-like connection to the instance's emulated server (autocommit on, as the tds driver opens it)."""
        if not instance.endpoint_address:
            raise ConnectionRefusedError(f"instance {instance.instance_id} has no endpoint yet")
        return SandboxConnection(self, instance)

    @property
    def calls(self) -> list[SandboxCall]:
        """Every statement executed, in order, by any process sharing the state file."""
        with self._state() as state:
            return list(state.calls)

    def databases(self, endpoint_address: str) -> set[str]:
        """Names of the databases restored on that instance."""
        with self._state() as state:
            instance = state.instances.get(endpoint_address)
            if instance is None:
                return set()
            self._advance(instance, self._clock())
            return set(instance.databases)

    # The server side of a cursor's execute.

    def execute(
        self, instance: InstanceState, autocommit: bool, sql: str, params: Sequence[SqlParam]
    ) -> list[_ResultSet]:
        """Run one statement as the emulated server would, returning its result sets."""
        check = CHECK_STATEMENTS.get(sql)
        if check is not None:
            return self._check(instance, check, params)
        procedure, bound = _parse(sql, params)
        with self._state() as state:
            state.calls.append(SandboxCall(procedure, bound))
            # Bounded so a demo left running does not rewrite an ever-growing file on every poll.
            del state.calls[:-MAX_RECORDED_CALLS]
            _check_signature(procedure, bound)
            if not autocommit:
                raise SandboxSqlError(50000, f"{_short(procedure)} cannot run inside a user transaction.")
            endpoint = instance.endpoint_address or ""
            server = state.instances.setdefault(endpoint, _Instance(advanced_to=self._clock()))
            now = self._clock()
            self._advance(server, now)
            if procedure == RESTORE_DATABASE:
                return self._restore_database(instance, server, bound, now)
            if procedure == TASK_STATUS:
                return [_status_set(server, bound, now)]
            return self._cancel_task(server, bound, now)

    def _check(self, instance: InstanceState, kind: str, params: Sequence[SqlParam]) -> list[_ResultSet]:
        """A drill's validation query, answered from the manifests of the databases restored here."""
        values = [str(value) for value in params]
        with self._state() as state:
            state.calls.append(SandboxCall(f"check:{kind}", {f"p{i}": v for i, v in enumerate(values, 1)}))
            if len(values) != CHECK_QUERY_PLACEHOLDERS[kind] or any(not isinstance(v, str) for v in params):
                raise SandboxSqlError(8144, f"the {kind} query takes {CHECK_QUERY_PLACEHOLDERS[kind]} bound strings")
            server = state.instances.setdefault(instance.endpoint_address or "", _Instance(advanced_to=self._clock()))
            self._advance(server, self._clock())
            restored = {name: server.contents.get(name, {}) for name in server.databases}
            try:
                columns, rows = backup_content.answer(kind, values, restored)
            except backup_content.SandboxQueryError as exc:
                raise SandboxSqlError(exc.number, exc.text) from None
            return [_ResultSet(columns, rows)]

    def _restore_database(
        self, instance: InstanceState, server: _Instance, bound: dict[str, SqlParam], now: float
    ) -> list[_ResultSet]:
        if instance.option_group_status not in (None, "in-sync"):
            raise SandboxSqlError(
                50000,
                "Database backup/restore option is not enabled yet or is in the process of being enabled. "
                "Please try again later.",
            )
        name = _text(bound, "restore_db_name")
        s3_arn = _text(bound, "s3_arn_to_restore_from")
        if not s3_arn.startswith("arn:aws") or ":s3:::" not in s3_arn:
            raise SandboxSqlError(50000, f"The S3 ARN '{s3_arn}' is not valid.")
        restore_type = str(bound.get("type") or "FULL").upper()
        if restore_type not in ("FULL", "DIFFERENTIAL"):
            raise SandboxSqlError(50000, f"Invalid @type '{restore_type}'; use FULL or DIFFERENTIAL.")
        kms = bound.get("kms_master_key_arn")
        task = _Task(
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
        return [_ResultSet(("task_id",), []), _ResultSet(STATUS_COLUMNS, [_status_row(task, now)])]

    def _cancel_task(self, server: _Instance, bound: dict[str, SqlParam], now: float) -> list[_ResultSet]:
        task_id = _int(bound, "task_id")
        task = next((t for t in server.tasks if t.task_id == task_id), None)
        if task is None:
            raise SandboxSqlError(50000, f"Task id {task_id} does not exist.")
        if task.lifecycle in (TaskLifecycle.CREATED, TaskLifecycle.IN_PROGRESS):
            task.lifecycle = TaskLifecycle.CANCEL_REQUESTED.value
            task.cancel_requested_at = now
            task.last_updated = now
            task.info.append(_stamp(now, "Task cancellation was requested."))
        # Cancelling a finished or already cancelling task changes nothing, so a retried cancel is harmless.
        return [_ResultSet(None, [])]

    # Time.

    def _advance(self, server: _Instance, now: float) -> None:
        """Apply every transition due by `now`, earliest first, so queued tasks start exactly when a slot frees."""
        at = server.advanced_to
        while True:
            due = self._next_event(server, at)
            if due is None or due[0] > now:
                break
            at, apply = due
            apply(at)
        server.advanced_to = max(server.advanced_to, now)

    def _next_event(self, server: _Instance, at: float) -> tuple[float, Callable[[float], None]] | None:
        events: list[tuple[float, int, Callable[[float], None]]] = []
        for task in server.tasks:
            if task.lifecycle == TaskLifecycle.IN_PROGRESS and task.started_at is not None:
                events.append((task.started_at + task.restore_seconds, task.task_id, partial(_finish, server, task)))
            elif task.lifecycle == TaskLifecycle.CANCEL_REQUESTED and task.cancel_requested_at is not None:
                events.append((task.cancel_requested_at + self.cancel_seconds, task.task_id, partial(_cancelled, task)))
        queued = [t for t in server.tasks if t.lifecycle == TaskLifecycle.CREATED]
        if queued and _running(server) < self.max_concurrent_tasks:
            first = min(queued, key=lambda t: t.task_id)
            start = max(first.created_at + self.start_delay_seconds, at)
            events.append((start, first.task_id, partial(self._start, server, first)))
        if not events:
            return None
        when, _, apply = min(events, key=lambda event: (event[0], event[1]))
        return when, apply

    def _start(self, server: _Instance, task: _Task, at: float) -> None:
        task.last_updated = at
        task.info.append(_stamp(at, "Task execution has started."))
        failure = self._start_failure(server, task)
        if failure is not None:
            task.lifecycle = TaskLifecycle.ERROR.value
            task.finished_at = at
            task.info.append(
                _stamp(at, "Aborted the task because of a task failure or a concurrent RESTORE_DB request.")
            )
            task.info.append(_stamp(at, failure))
            return
        task.lifecycle = TaskLifecycle.IN_PROGRESS.value
        task.started_at = at

    def _start_failure(self, server: _Instance, task: _Task) -> str | None:
        if not self._object_exists(task.s3_arn):
            return (
                f"Error making request with Error Code NotFound and Http Status Code NotFound. "
                f"The specified key does not exist: {task.s3_arn}"
            )
        fault = backup_content.restore_fault(task.content)
        if fault:
            return fault
        restoring = {
            t.database_name.casefold() for t in server.tasks if t.started_at is not None and t.finished_at is None
        }
        if server.has_database(task.database_name) or task.database_name.casefold() in restoring:
            return (
                f"Database '{task.database_name}' already exists. Two databases that differ only by case or accent "
                "are not allowed. Choose a different database name."
            )
        return None

    # State, in memory or in the shared file.

    @contextlib.contextmanager
    def _state(self) -> Iterator[_State]:
        with self._lock:
            if self._state_path is None:
                yield self._memory
                return
            path = self._state_path
            path.parent.mkdir(parents=True, exist_ok=True)
            # flock, not only the thread lock: a second process may share the file.
            with open(path.with_name(path.name + ".lock"), "a") as lock_file:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
                try:
                    state = _load(path)
                    try:
                        yield state
                    finally:
                        # Saved even when the statement failed: its call was recorded and time moved on.
                        _save(path, state)
                finally:
                    fcntl.flock(lock_file, fcntl.LOCK_UN)


class SandboxCursor:
    """A DB-API-like cursor over the emulated server's result sets."""

    def __init__(self, connection: SandboxConnection) -> None:
        self._connection = connection
        self._sets: list[_ResultSet] = []
        self._index = 0
        self._closed = False

    @property
    def description(self) -> tuple[tuple[str, None, None, None, None, None, None], ...] | None:
        current = self._current()
        if current is None or current.columns is None:
            return None
        return tuple((name, None, None, None, None, None, None) for name in current.columns)

    @property
    def rowcount(self) -> int:
        current = self._current()
        return -1 if current is None else len(current.rows)

    def execute(self, operation: str, params: Sequence[SqlParam] = ()) -> SandboxCursor:
        if self._closed:
            raise SandboxSqlError(0, "Cursor is closed.")
        self._sets = self._connection.execute(operation, params)
        self._index = 0
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        current = self._current()
        if current is None or current.columns is None:
            raise SandboxSqlError(0, "Previous statement didn't produce any results.")
        rows = list(current.rows)
        current.rows.clear()
        return rows

    def fetchone(self) -> tuple[Any, ...] | None:
        current = self._current()
        if current is None or current.columns is None:
            raise SandboxSqlError(0, "Previous statement didn't produce any results.")
        return current.rows.pop(0) if current.rows else None

    def nextset(self) -> bool | None:
        if self._index + 1 < len(self._sets):
            self._index += 1
            return True
        self._index = len(self._sets)
        return None

    def close(self) -> None:
        self._closed = True

    def _current(self) -> _ResultSet | None:
        return self._sets[self._index] if self._index < len(self._sets) else None


class SandboxConnection:
    """A DB-API-like connection to one emulated instance."""

    def __init__(self, server: SandboxSqlServer, instance: InstanceState, autocommit: bool = True) -> None:
        self._server = server
        self._instance = instance
        self.autocommit = autocommit
        self._closed = False

    def cursor(self) -> SandboxCursor:
        if self._closed:
            raise SandboxSqlError(0, "Connection closed.")
        return SandboxCursor(self)

    def execute(self, operation: str, params: Sequence[SqlParam]) -> list[_ResultSet]:
        if self._closed:
            raise SandboxSqlError(0, "Connection closed.")
        return self._server.execute(self._instance, self.autocommit, operation, params)

    def commit(self) -> None:
        """Nothing to commit: the emulated procedures apply at once."""

    def rollback(self) -> None:
        """Nothing to roll back."""

    def close(self) -> None:
        self._closed = True


# Parsing what a client sends.


def _parse(sql: str, params: Sequence[SqlParam]) -> tuple[str, dict[str, SqlParam]]:
    match = _EXEC.match(sql)
    if match is None:
        raise SandboxSqlError(
            102, f"Incorrect syntax near '{sql.strip()[:40]}'; the sandbox runs only exec msdb.dbo.rds_*."
        )
    procedure = match["procedure"].replace("[", "").replace("]", "").lower()
    args = match["args"].strip().rstrip(";").strip()
    pieces = [piece.strip() for piece in args.split(",")] if args else []
    if sql.count("%s") != len(params):
        raise SandboxSqlError(
            0, f"the statement has {sql.count('%s')} placeholders but {len(params)} parameters were bound"
        )
    bound: dict[str, SqlParam] = {}
    values = iter(params)
    for piece in pieces:
        arg = _BOUND_ARG.match(piece)
        if arg is None:
            literal = _LITERAL_ARG.match(piece)
            what = f"@{literal['name']}" if literal else repr(piece)
            raise SandboxSqlError(0, f"{what} must be bound as a parameter (@name=%s), not written into the statement")
        name = arg["name"].lower()
        if name in bound:
            raise SandboxSqlError(8143, f"Parameter '@{name}' was supplied multiple times.")
        bound[name] = next(values)
    return procedure, bound


def _check_signature(procedure: str, bound: dict[str, SqlParam]) -> None:
    signature = _SIGNATURES.get(procedure)
    if signature is None:
        raise SandboxSqlError(2812, f"Could not find stored procedure '{procedure}'.")
    for name in bound:
        if name not in signature:
            raise SandboxSqlError(8145, f"@{name} is not a parameter for procedure {_short(procedure)}.")
    for name, required in signature.items():
        if required and bound.get(name) is None:
            raise SandboxSqlError(
                201, f"Procedure or function '{_short(procedure)}' expects parameter '@{name}', which was not supplied."
            )
    if "with_norecovery" in bound and bound["with_norecovery"] not in (None, 0, 1):
        raise SandboxSqlError(50000, "@with_norecovery must be 0 or 1.")


def _short(procedure: str) -> str:
    return procedure.rsplit(".", 1)[-1]


def _text(bound: dict[str, SqlParam], name: str) -> str:
    value = bound.get(name)
    if not isinstance(value, str) or not value:
        raise SandboxSqlError(50000, f"@{name} must be a non-empty string.")
    return value


def _int(bound: dict[str, SqlParam], name: str) -> int:
    value = bound.get(name)
    try:
        return int(value)  # type: ignore[arg-type]  # a str of digits converts implicitly on SQL Server too
    except (TypeError, ValueError):
        raise SandboxSqlError(8114, f"Error converting data type nvarchar to int for @{name}.") from None


# Answers.


def _status_set(server: _Instance, bound: dict[str, SqlParam], now: float) -> _ResultSet:
    tasks = server.tasks
    if bound.get("task_id") is not None:
        task_id = _int(bound, "task_id")
        tasks = [t for t in tasks if t.task_id == task_id]
    if bound.get("db_name") is not None:
        wanted = str(bound["db_name"]).casefold()
        tasks = [t for t in tasks if t.database_name.casefold() == wanted]
    return _ResultSet(STATUS_COLUMNS, [_status_row(t, now) for t in sorted(tasks, key=lambda t: t.task_id)])


def _status_row(task: _Task, now: float) -> tuple[Any, ...]:
    percent = _percent(task, now)
    last_updated = now if task.lifecycle == TaskLifecycle.IN_PROGRESS else task.last_updated
    minutes = int(((task.finished_at or now) - task.created_at) // 60)
    values = {
        "task_id": task.task_id,
        "task_type": "RESTORE_DB",
        "database_name": task.database_name,
        "% complete": percent,
        "duration (mins)": minutes,
        "lifecycle": task.lifecycle,
        "task_info": "\n".join(task.info) or None,
        "last_updated": _datetime(last_updated),
        "created_at": _datetime(task.created_at),
        "S3_object_arn": task.s3_arn,
        "overwrite_s3_backup_file": None,
        "KMS_master_key_arn": task.kms_key_arn,
    }
    return tuple(values[column] for column in STATUS_COLUMNS)


def _percent(task: _Task, now: float) -> int:
    if task.lifecycle == TaskLifecycle.SUCCESS:
        return 100
    if task.started_at is None or task.restore_seconds <= 0:
        return 0
    # Progress stops when a cancel is asked for, not when the cancel completes.
    end = task.cancel_requested_at or task.finished_at or now
    return max(0, min(99, int(100 * (end - task.started_at) / task.restore_seconds)))


def _datetime(at: float) -> datetime:
    # python-tds hands back SQL Server datetime columns as naive values; RDS keeps them in UTC.
    return datetime.fromtimestamp(at, UTC).replace(tzinfo=None)


def _stamp(at: float, message: str) -> str:
    return f"[{_datetime(at):%Y-%m-%d %H:%M:%S.%f}"[:-3] + f"] {message}"


# Transitions.


def _running(server: _Instance) -> int:
    return sum(1 for t in server.tasks if t.started_at is not None and t.finished_at is None)


def _finish(server: _Instance, task: _Task, at: float) -> None:
    task.lifecycle = TaskLifecycle.SUCCESS.value
    task.finished_at = at
    task.last_updated = at
    task.info.append(_stamp(at, f"Restored database {task.database_name} from {task.s3_arn}."))
    task.info.append(_stamp(at, "Task has been completed successfully."))
    server.databases.append(task.database_name)
    server.contents[task.database_name] = task.content or {}


def _cancelled(task: _Task, at: float) -> None:
    task.lifecycle = TaskLifecycle.CANCELLED.value
    task.finished_at = at
    task.last_updated = at
    task.info.append(_stamp(at, "The task has been cancelled."))


# The shared file.


def _load(path: Path) -> _State:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _State()
    return _State.from_json(json.loads(text)) if text.strip() else _State()


def _save(path: Path, state: _State) -> None:
    # Write then rename, so a reader never sees half a file.
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(state.to_json(), out, indent=1)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def embedded_sql_server(s3: Any, *, restore_seconds: float, state_path: Path | None) -> SandboxSqlServer:
    """The emulator as the bot runs it: backups checked and read through `s3`, tasks starting after a tenth of the
    restore time (one second at most), state in `state_path` so a restarted bot finds its tasks."""
    return SandboxSqlServer(
        restore_seconds=restore_seconds,
        start_delay_seconds=min(1.0, restore_seconds / 10),
        object_exists=lambda arn: backup_content.s3_objects_exist(s3, arn),
        backup_content=lambda arn: backup_content.read_manifest(s3, arn),
        state_path=state_path,
    )
