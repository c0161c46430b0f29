"""Waiting on one native task in rds_task_status (AWS guide "SQLServer.Procedural.Importing.Native.Using": the
lifecycle runs CREATED, IN_PROGRESS, then SUCCESS, ERROR or CANCELLED; `% complete` refreshes about every 2 minutes).
The restore_wait and backup_wait stages both use it, so a restore and a backup report progress, success and failure
the same way. Pure over the NativeRestore port."""

from __future__ import annotations

from typing import Literal, Protocol

from bot.domain import InstanceState, Job, TaskLifecycle, TaskStatus
from bot.errors import RestoreTaskError
from bot.stage_context import Done, StepResult, Waiting

ENDED_UNSUCCESSFULLY = frozenset({TaskLifecycle.ERROR, TaskLifecycle.CANCELLED})


class TaskStatuses(Protocol):
    """The one NativeRestore call a wait makes: a row of msdb.dbo.rds_task_status."""

    def task_status(self, instance: InstanceState, task_id: int) -> TaskStatus: ...


def wait_for_task(
    job: Job, instance: InstanceState, native: TaskStatuses, kind: Literal["restore", "backup"]
) -> StepResult:
    """Poll the job's task once: Done at SUCCESS (100%), RestoreTaskError (with RDS's task_info) when it ended
    otherwise, else Waiting with its lifecycle and percent."""
    task_id = job.outputs.task_id
    if task_id is None:
        raise KeyError("task_id")  # the start stage saves it first: a bug, as a missing output always is
    status = native.task_status(instance, task_id)
    if status.lifecycle == TaskLifecycle.SUCCESS:
        job.percent_complete = 100
        return Done(f"task {task_id} SUCCESS")
    if status.lifecycle in ENDED_UNSUCCESSFULLY:
        reason = status.reason or f"{kind} task {task_id} ended {status.lifecycle}: {status.task_info}"
        raise RestoreTaskError(reason, status.task_info)
    return Waiting(f"{status.lifecycle} {status.percent_complete}%", status.percent_complete)
