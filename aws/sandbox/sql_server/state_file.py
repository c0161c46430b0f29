"""The emulator's state: every instance's tasks and databases and every call made, in memory or in a JSON file
that several processes share (a restarted bot, or a second engine, sees the same tasks)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from aws.sandbox.sql_server.results import SqlParam
from aws.sandbox.sql_server.server_audits import AuditState
from bot.domain import TaskLifecycle


class SandboxCall(NamedTuple):
    """One statement the server executed: the procedure and its bound parameters by name."""

    procedure: str
    params: dict[str, SqlParam]


@dataclass
class RestoreTask:
    """One rds_restore_database task, as rds_task_status reports it."""

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
    # RESTORE_DB, RESTORE_DB_NORECOVERY, ..._DIFFERENTIAL(_NORECOVERY), ..._LOG(_NORECOVERY), FINISH_RESTORE,
    # BACKUP_DB, BACKUP_DB_DIFFERENTIAL: rds_task_status's task_type, from the procedure, @type, @with_norecovery.
    task_type: str = "RESTORE_DB"
    overwrite_s3_backup_file: int | None = None  # backups only, as rds_task_status shows it
    number_of_files: int = 1  # backups only
    region: str | None = None  # the instance's, for the same-region check when the task starts
    engine: str | None = None  # the instance's (sqlserver-ex holds 10 GB per database)
    stopat: str | None = None  # rds_restore_log's @stopat: where the log restore stopped
    # Restores only: the S3 reads the option group's role was not allowed when the task was created ("" when none).
    role_denied: str = ""

    @property
    def norecovery(self) -> bool:
        return self.task_type.endswith("_NORECOVERY")

    @property
    def is_restore(self) -> bool:
        return self.task_type.startswith("RESTORE_DB")

    @property
    def pending(self) -> bool:
        return self.finished_at is None and self.lifecycle != TaskLifecycle.CANCELLED


@dataclass
class EmulatedInstance:
    """One emulated instance: its restore tasks, its databases, and how far its clock has been applied."""

    next_task_id: int = 1
    databases: list[str] = field(default_factory=list)
    advanced_to: float = 0.0
    tasks: list[RestoreTask] = field(default_factory=list)
    # Database name -> what it holds (tables, django_migrations), from its backup's manifest.
    contents: dict[str, dict[str, Any]] = field(default_factory=dict)
    server_audit: AuditState = field(default_factory=AuditState)
    # Databases a NORECOVERY restore left RESTORING: in `databases` (the name is taken) but not open.
    restoring: list[str] = field(default_factory=list)
    # Database name -> the @stopat its last log restore stopped at: the point in time it was recovered to.
    stopped_at: dict[str, str] = field(default_factory=dict)
    # User TDE certificates imported by rds_restore_tde_certificate: name -> thumbprint.
    tde_certificates: dict[str, str] = field(default_factory=dict)

    def has_database(self, name: str) -> bool:
        # Default collations compare names case-insensitively, so "Sales" and "sales" collide.
        return name.casefold() in {db.casefold() for db in self.databases}

    def is_restoring(self, name: str) -> bool:
        return name.casefold() in {db.casefold() for db in self.restoring}

    def pending_tasks(self, database: str) -> list[RestoreTask]:
        return [t for t in self.tasks if t.pending and t.database_name.casefold() == database.casefold()]

    def drop(self, name: str) -> None:
        for names in (self.databases, self.restoring):
            names[:] = [db for db in names if db.casefold() != name.casefold()]
        self.contents = {db: c for db, c in self.contents.items() if db.casefold() != name.casefold()}


@dataclass
class EmulatorState:
    """Every emulated instance by endpoint address, and every call made to any of them."""

    instances: dict[str, EmulatedInstance] = field(default_factory=dict)
    calls: list[SandboxCall] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "instances": {endpoint: asdict(instance) for endpoint, instance in self.instances.items()},
            "calls": [{"procedure": call.procedure, "params": call.params} for call in self.calls],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EmulatorState:
        instances = {
            endpoint: EmulatedInstance(
                next_task_id=raw["next_task_id"],
                databases=list(raw["databases"]),
                advanced_to=raw["advanced_to"],
                tasks=[RestoreTask(**task) for task in raw["tasks"]],
                contents=dict(raw.get("contents", {})),
                server_audit=AuditState.from_json(raw.get("server_audit")),
                restoring=list(raw.get("restoring", [])),
                stopped_at=dict(raw.get("stopped_at", {})),
                tde_certificates=dict(raw.get("tde_certificates", {})),
            )
            for endpoint, raw in data.get("instances", {}).items()
        }
        calls = [SandboxCall(call["procedure"], dict(call["params"])) for call in data.get("calls", [])]
        return cls(instances=instances, calls=calls)


class SharedState:
    """The state, in memory or in the shared file, one statement at a time across threads and processes."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._memory = EmulatorState()

    @contextlib.contextmanager
    def open(self) -> Iterator[EmulatorState]:
        """The state to read and change; with a file, it is saved when the block ends, even by an exception."""
        with self._lock:
            if self._path is None:
                yield self._memory
                return
            path = self._path
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


def _load(path: Path) -> EmulatorState:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return EmulatorState()
    return EmulatorState.from_json(json.loads(text)) if text.strip() else EmulatorState()


def _save(path: Path, state: EmulatorState) -> None:
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
