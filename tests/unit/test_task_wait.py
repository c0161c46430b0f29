"""restore_wait and backup_wait poll their task the same way (bot/task_wait.py): progress as RDS reports it, 100% on
SUCCESS, and on ERROR or CANCELLED a RestoreTaskError in plain words (the driver's reason, else the lifecycle and RDS's
task_info) naming which kind of task ended. Lifecycles: AWS guide "SQLServer.Procedural.Importing.Native.Using"."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import pytest

from bot.domain import InstanceState, Job, StageOutputs, TaskLifecycle, TaskStatus
from bot.errors import RestoreTaskError
from bot.stage_context import Done, Waiting
from bot.task_wait import wait_for_task
from tests.support.factories import make_plan

Kind = Literal["restore", "backup"]
INSTANCE = InstanceState(instance_id="rdsbot-sales", status="available", instance_class="db.m5.large")


class OneTask:
    """rds_task_status answering one row, whatever the instance."""

    def __init__(self, status: TaskStatus) -> None:
        self.status = status
        self.asked: list[int] = []

    def task_status(self, instance: InstanceState, task_id: int) -> TaskStatus:
        self.asked.append(task_id)
        return self.status


def job(task_id: int | None = 7) -> Job:
    return Job(
        id="j0000wait",
        requester="U0ALICE",
        plan=make_plan("rdsbot-sales"),
        created_at=datetime(2026, 11, 26, tzinfo=UTC),
        outputs=StageOutputs(task_id=task_id),
    )


def row(lifecycle: TaskLifecycle, percent: int = 0, info: str = "", reason: str = "") -> TaskStatus:
    return TaskStatus(
        task_id=7, database_name="sales", lifecycle=lifecycle, percent_complete=percent, task_info=info, reason=reason
    )


@pytest.mark.parametrize("kind", ["restore", "backup"])
def test_a_running_task_reports_its_lifecycle_and_percent(kind: Kind) -> None:
    native = OneTask(row(TaskLifecycle.IN_PROGRESS, 40))
    assert wait_for_task(job(), INSTANCE, native, kind) == Waiting("IN_PROGRESS 40%", 40)
    assert native.asked == [7]


@pytest.mark.parametrize("kind", ["restore", "backup"])
def test_a_succeeded_task_is_done_at_100_percent(kind: Kind) -> None:
    waited = job()
    assert wait_for_task(waited, INSTANCE, OneTask(row(TaskLifecycle.SUCCESS, 100)), kind) == Done("task 7 SUCCESS")
    assert waited.percent_complete == 100


@pytest.mark.parametrize(("kind", "lifecycle"), [("restore", TaskLifecycle.ERROR), ("backup", TaskLifecycle.CANCELLED)])
def test_an_ended_task_fails_naming_its_kind_lifecycle_and_task_info(kind: Kind, lifecycle: TaskLifecycle) -> None:
    with pytest.raises(RestoreTaskError) as caught:
        wait_for_task(job(), INSTANCE, OneTask(row(lifecycle, 10, info="Access Denied")), kind)
    assert str(caught.value) == f"{kind} task 7 ended {lifecycle}: Access Denied"
    assert caught.value.task_info == "Access Denied"


def test_the_drivers_plain_reason_wins_over_the_generic_text() -> None:
    ended = row(TaskLifecycle.ERROR, info="Msg 3201 ...", reason="the backup file is not there")
    with pytest.raises(RestoreTaskError, match=r"^the backup file is not there$"):
        wait_for_task(job(), INSTANCE, OneTask(ended), "backup")


def test_a_job_without_a_task_is_a_bug_not_a_wait() -> None:
    with pytest.raises(KeyError, match="task_id"):
        wait_for_task(job(task_id=None), INSTANCE, OneTask(row(TaskLifecycle.IN_PROGRESS)), "restore")
