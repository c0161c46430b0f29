"""How restore tasks move on with time: CREATED -> IN_PROGRESS -> SUCCESS (or ERROR, or CANCELLED), at most
`max_concurrent_tasks` at a time per instance while the rest wait in CREATED, each transition applied at the
moment it was due."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Protocol

from aws.sandbox.backup_content import manifest_bytes, restore_fault
from aws.sandbox.sql_server.aws_view import AwsView, bucket_and_key
from aws.sandbox.sql_server.state_file import EmulatedInstance, RestoreTask
from aws.sandbox.sql_server.task_status import stamp
from aws.sandbox.sql_server.tde_certificates import missing_certificate
from bot.domain import TaskLifecycle

Transition = Callable[[float], None]


class LifecycleRules(Protocol):
    """The server's timings and its view of S3, which decide when and how a task moves on."""

    start_delay_seconds: float
    cancel_seconds: float
    max_concurrent_tasks: int
    aws: AwsView

    def backup_exists(self, s3_arn: str) -> bool: ...

    def start_failure(self, server: EmulatedInstance, task: RestoreTask) -> str | None:
        """What RDS finds wrong with the task's S3 objects, KMS key or instance when it starts; None if nothing."""
        ...


def advance(rules: LifecycleRules, server: EmulatedInstance, now: float) -> None:
    """Apply every transition due by `now`, earliest first, so queued tasks start exactly when a slot frees."""
    at = server.advanced_to
    while True:
        due = _next_event(rules, server, at)
        if due is None or due[0] > now:
            break
        at, apply = due
        apply(at)
    server.advanced_to = max(server.advanced_to, now)


def _next_event(rules: LifecycleRules, server: EmulatedInstance, at: float) -> tuple[float, Transition] | None:
    events: list[tuple[float, int, Transition]] = []
    for task in server.tasks:
        if task.lifecycle == TaskLifecycle.IN_PROGRESS and task.started_at is not None:
            events.append((task.started_at + task.restore_seconds, task.task_id, partial(_finish, rules, server, task)))
        elif task.lifecycle == TaskLifecycle.CANCEL_REQUESTED and task.cancel_requested_at is not None:
            events.append((task.cancel_requested_at + rules.cancel_seconds, task.task_id, partial(_cancelled, task)))
    queued = [t for t in server.tasks if t.lifecycle == TaskLifecycle.CREATED]
    if queued and _running(server) < rules.max_concurrent_tasks:
        first = min(queued, key=lambda t: t.task_id)
        start = max(first.created_at + rules.start_delay_seconds, at)
        events.append((start, first.task_id, partial(_start, rules, server, first)))
    if not events:
        return None
    when, _, apply = min(events, key=lambda event: (event[0], event[1]))
    return when, apply


def _start(rules: LifecycleRules, server: EmulatedInstance, task: RestoreTask, at: float) -> None:
    task.last_updated = at
    task.info.append(stamp(at, "Task execution has started."))
    failure = _start_failure(rules, server, task)
    if failure is not None:
        task.lifecycle = TaskLifecycle.ERROR.value
        task.finished_at = at
        task.info.append(stamp(at, "Aborted the task because of a task failure or a concurrent RESTORE_DB request."))
        task.info.append(stamp(at, failure))
        return
    task.lifecycle = TaskLifecycle.IN_PROGRESS.value
    task.started_at = at


def _start_failure(rules: LifecycleRules, server: EmulatedInstance, task: RestoreTask) -> str | None:
    if task.task_type == "FINISH_RESTORE":
        return None
    if not task.is_restore:
        return _backup_failure(rules, server, task) or rules.start_failure(server, task)
    if not rules.backup_exists(task.s3_arn):
        return (
            f"Error making request with Error Code NotFound and Http Status Code NotFound. "
            f"The specified key does not exist: {task.s3_arn}"
        )
    problem = rules.start_failure(server, task) or restore_fault(task.content) or missing_certificate(server, task)
    if problem:
        return problem
    if task.task_type not in ("RESTORE_DB", "RESTORE_DB_NORECOVERY"):
        return None  # a differential or log restore goes onto the database its chain left RESTORING
    restoring = {t.database_name.casefold() for t in server.tasks if t.started_at is not None and t.finished_at is None}
    if server.has_database(task.database_name) or task.database_name.casefold() in restoring:
        return (
            f"Database '{task.database_name}' already exists. Two databases that differ only by case or accent "
            "are not allowed. Choose a different database name."
        )
    return None


def _backup_failure(rules: LifecycleRules, server: EmulatedInstance, task: RestoreTask) -> str | None:
    if task.task_type == "BACKUP_DB_DIFFERENTIAL" and not _has_differential_base(server, task):
        # SQL Server message 3035; RDS snapshots after a restore, and the guide says a snapshot between the full
        # and the differential breaks the differential: only a full backup since the last restore is a base.
        return (
            f'Cannot perform a differential backup for database "{task.database_name}", because a current database '
            "backup does not exist. Perform a full database backup by reissuing BACKUP DATABASE, omitting the WITH "
            "DIFFERENTIAL option."
        )
    if task.overwrite_s3_backup_file:
        return None
    for bucket, key in backup_files(task):
        if rules.aws.object_exists(bucket, key):
            # AWS guide, troubleshooting: the text for a file that exists with @overwrite_s3_backup_file=0.
            return "Please reissue task with correct type and overwrite property"
    return None


def _has_differential_base(server: EmulatedInstance, task: RestoreTask) -> bool:
    name = task.database_name.casefold()
    base = False
    for earlier in sorted(server.tasks, key=lambda t: t.task_id):
        if earlier.task_id >= task.task_id or earlier.database_name.casefold() != name:
            continue
        if earlier.is_restore:
            base = False
        elif earlier.task_type == "BACKUP_DB" and earlier.lifecycle == TaskLifecycle.SUCCESS:
            base = True
    return base


def backup_files(task: RestoreTask) -> list[tuple[str, str]]:
    """(bucket, key) of each file a backup writes: `*` becomes 1-of-N ... N-of-N when N > 1 (AWS guide)."""
    bucket, key = bucket_and_key(task.s3_arn)
    if task.number_of_files == 1:
        return [(bucket, key)]
    return [(bucket, key.replace("*", f"{n}-of-{task.number_of_files}")) for n in range(1, task.number_of_files + 1)]


def _running(server: EmulatedInstance) -> int:
    return sum(1 for t in server.tasks if t.started_at is not None and t.finished_at is None)


def _finish(rules: LifecycleRules, server: EmulatedInstance, task: RestoreTask, at: float) -> None:
    task.lifecycle = TaskLifecycle.SUCCESS.value
    task.finished_at = at
    task.last_updated = at
    name = task.database_name
    if task.task_type.startswith("BACKUP_DB"):
        # The files land in the bucket in the sandbox backup format, so this backup can be restored again.
        body = manifest_bytes(server.contents.get(_stored_name(server, name), {}))
        for bucket, key in backup_files(task):
            rules.aws.put_object(bucket, key, body)
        task.info.append(stamp(at, f"Backed up database {name} to {task.s3_arn}."))
    elif task.task_type == "FINISH_RESTORE":
        server.restoring[:] = [db for db in server.restoring if db.casefold() != name.casefold()]
        task.info.append(stamp(at, f"Database {name} is open."))
    else:
        if not server.has_database(name):
            server.databases.append(name)
        server.contents[_stored_name(server, name)] = task.content or {}
        restoring = server.is_restoring(name)
        if task.norecovery and not restoring:
            server.restoring.append(name)
        elif not task.norecovery and restoring:
            server.restoring[:] = [db for db in server.restoring if db.casefold() != name.casefold()]
        if task.stopat:
            # The emulator holds no log records to stop in; it keeps the time, as a caller can see it was sent.
            server.stopped_at[_stored_name(server, name)] = task.stopat
        stop = f", stopped at {task.stopat}" if task.stopat else ""
        task.info.append(stamp(at, f"Restored database {name} from {task.s3_arn}{stop}."))
    task.info.append(stamp(at, "Task has been completed successfully."))


def _stored_name(server: EmulatedInstance, name: str) -> str:
    return next((db for db in server.databases if db.casefold() == name.casefold()), name)


def _cancelled(task: RestoreTask, at: float) -> None:
    task.lifecycle = TaskLifecycle.CANCELLED.value
    task.finished_at = at
    task.last_updated = at
    task.info.append(stamp(at, "The task has been cancelled."))
