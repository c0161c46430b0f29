"""Driving a restore chain inside restore_start and restore_wait: one statement per step, each sent once.

Before step k is sent, the database's tasks are read (rds_task_status @db_name) and a task of the step's type for
its S3 ARN, newer than step k-1's task, is taken as already sent: a bot that died between sending a step and saving
its task id never sends that step twice. The task ids are saved per step (StageOutputs.chain_tasks)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.domain import InstanceState, Job, RestorePlan, TaskLifecycle, TaskStatus
from bot.errors import RestoreTaskError
from bot.ports import NativeRestore
from bot.restore_chain import ChainStep, chain_steps
from bot.task_wait import ENDED_UNSUCCESSFULLY


@dataclass(frozen=True)
class ChainProgress:
    detail: str
    percent: int
    finished: bool = False


def steps_of(plan: RestorePlan) -> tuple[ChainStep, ...]:
    """The chain's statements, FULL first and rds_finish_restore last; () for a plain restore."""
    return chain_steps(plan.s3_arn, plan.chain) if plan.chain is not None else ()


def _already_sent(tasks: list[TaskStatus], step: ChainStep, after: int | None) -> TaskStatus | None:
    def matches(task: TaskStatus) -> bool:
        if task.task_type.upper() != step.task_type:
            return False
        if step.s3_arn is not None and task.s3_object_arn != step.s3_arn:
            return False
        if after is None:
            # The first step: an earlier failed restore of this name (another job's) is history, not this chain.
            return task.lifecycle not in ENDED_UNSUCCESSFULLY
        return task.task_id > after  # steps run one after another, so step k's task is newer than step k-1's

    return max(filter(matches, tasks), key=lambda task: task.task_id, default=None)


def send_step(
    job: Job,
    instance: InstanceState,
    native: NativeRestore,
    index: int,
    before_sending: Callable[[], str] | None = None,
) -> str:
    """Send step `index` unless its task exists already; record its task id; say what happened. `before_sending`
    runs only when the step is really sent (--into --replace: the drop), and says what it did."""
    plan = job.plan
    steps = steps_of(plan)
    step = steps[index]
    sent = (job.outputs.chain_tasks or ())[:index]
    # Step 1 of an --into chain comes after the floor saved before it: older tasks are other restores'.
    after = sent[-1] if sent else job.outputs.task_floor
    found = _already_sent(native.tasks_for(instance, plan.database_name), step, after)
    done = ""
    if found is not None:
        task_id, how = found.task_id, "found, not sent again"
    else:
        done = before_sending() if before_sending is not None else ""
        task_id, how = native.start_chain_step(instance, plan.database_name, step, plan.backup_kms_key_arn), "sent"
    job.outputs.chain_tasks = (*sent, task_id)
    job.outputs.task_id = task_id  # what a cancel stops
    return f"{done}step {index + 1} of {len(steps)}: {step.label()}: task {task_id} {how}"


def restoring_hint(plan: RestorePlan) -> str:
    """What to do with a database a broken chain left RESTORING."""
    name = plan.database_name
    return (
        f"database {name} is left RESTORING on {plan.target_instance_id}: open it as restored so far with "
        f"exec msdb.dbo.rds_finish_restore @db_name='{name}', or drop it with "
        f"exec msdb.dbo.rds_drop_database @db_name='{name}'"
    )


def wait_step(job: Job, instance: InstanceState, native: NativeRestore) -> ChainProgress:
    """Poll the current step's task; on success send the next one; after rds_finish_restore, finished."""
    plan = job.plan
    steps = steps_of(plan)
    sent = job.outputs.chain_tasks
    if not sent:
        raise KeyError("chain_tasks")  # restore_start sends step 1 first: a bug, as a missing output always is
    index = len(sent) - 1
    status = native.task_status(instance, sent[index])
    where = f"step {index + 1} of {len(steps)} ({steps[index].label()})"
    if status.lifecycle in ENDED_UNSUCCESSFULLY:
        reason = status.reason or f"task {status.task_id} ended {status.lifecycle}: {status.task_info}"
        raise RestoreTaskError(_failure(plan, index, f"{where} failed: {reason}"), status.task_info)
    if status.lifecycle != TaskLifecycle.SUCCESS:
        percent = (index * 100 + status.percent_complete) // len(steps)
        return ChainProgress(f"{where}: {status.lifecycle} {status.percent_complete}%", percent)
    if index + 1 == len(steps):
        job.percent_complete = 100
        tasks = ", ".join(map(str, sent))
        return ChainProgress(f"{len(steps)} steps done (tasks {tasks}); {plan.database_name} is open", 100, True)
    try:
        detail = send_step(job, instance, native, index + 1)
    except RestoreTaskError as exc:
        raise RestoreTaskError(_failure(plan, index + 1, str(exc)), exc.task_info) from None
    return ChainProgress(detail, (index + 1) * 100 // len(steps))


def _failure(plan: RestorePlan, index: int, text: str) -> str:
    # Only a step after the FULL one finds the database there, left RESTORING by the steps before it.
    return f"{text}; {restoring_hint(plan)}" if index > 0 else text
