"""Removing what a restore job created: its instance (only when the live instance is tagged as the job's), then the
shared resources it used (option group, subnet group, security group) that a job which ends made and that nothing
uses any more. One rule for drills (bot/drills/cleanup.py) and for every restore's lifecycle
(bot/lifecycle/runner.py). Each call does what it can and says what is left, so callers retry until done."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from bot import tags
from bot.domain import InstanceState, Job, StageOutputs
from bot.errors import RdsbotError
from bot.ports import DrillResources, InstanceUse


class CleanupInstances(Protocol):
    """The part of the instance gateway a cleanup uses."""

    def find(self, instance_id: str) -> InstanceState | None: ...

    def delete(self, instance_id: str, final_snapshot_id: str | None = None) -> None: ...


@dataclass
class Cleanup:
    """What one cleanup pass did."""

    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # still going (instance deleting) or failed: retry

    @property
    def done(self) -> bool:
        return not self.waiting


@dataclass(frozen=True)
class SharedKind:
    """A kind of resource jobs share: how cleanup names it, the job output that says a job used one, and the
    created_resources key that says a job made it."""

    label: str
    output: Callable[[StageOutputs], str | None]
    created: str


OPTION_GROUP = SharedKind("option group", lambda outputs: outputs.option_group, "option_group")
SUBNET_GROUP = SharedKind("subnet group", lambda outputs: outputs.subnet_group, "subnet_group")
SECURITY_GROUP = SharedKind("security group", lambda outputs: outputs.security_group_id, "security_group")
SHARED = (OPTION_GROUP, SUBNET_GROUP, SECURITY_GROUP)


class InstanceOutcome(StrEnum):
    GONE = "gone"  # deleted now or before (or never made): the shared resources may go
    WAITING = "waiting"  # deleting: the instance still holds its groups
    NOT_OURS = "not_ours"  # the live instance is not tagged as this job's: never deleted


def ends(job: Job) -> bool:
    """A job whose instance rdsbot deletes: a drill, or a restore planned with a keep window; never an --into
    job, whose instance existed before it."""
    if job.plan.into is not None or job.plan.backup is not None:
        return False
    return job.is_drill or job.plan.keep_seconds is not None


def made_by_ending_jobs(recent_jobs: Iterable[Job]) -> set[tuple[str, str]]:
    """(kind, name) of the shared resources whose newest creator among `recent_jobs` (newest first) ends.

    Jobs share one option group, subnet group and security group. Whichever made them, the last job to stop using
    them removes them; one a job without an end made (a restore from before keep windows, made again later) is
    never removed.
    """
    shared_kinds = {kind.created for kind in SHARED}
    newest_creator_ends: dict[tuple[str, str], bool] = {}
    for job in recent_jobs:
        for kind, name in job.created_resources.items():
            if kind in shared_kinds:
                newest_creator_ends.setdefault((kind, name), ends(job))
    return {key for key, ending in newest_creator_ends.items() if ending}


def remove_instance(
    job: Job, instances: CleanupInstances, result: Cleanup, final_snapshot_id: str | None = None
) -> InstanceOutcome:
    """Delete the job's instance if the live one carries the job's tags; never ask twice while it is deleting."""
    instance_id = job.plan.target_instance_id
    state = instances.find(instance_id)
    if state is not None and not tags.made_by_job(state.tags, job.id):
        result.kept.append(f"instance {instance_id} (not created by job {job.id})")
        return InstanceOutcome.NOT_OURS
    if state is not None:
        if state.status != "deleting":
            instances.delete(instance_id, final_snapshot_id)
        if instances.find(instance_id) is not None:
            result.waiting.append(f"instance {instance_id} deleting")
            return InstanceOutcome.WAITING
        result.removed.append(f"instance {instance_id}")
    elif "instance" in job.created_resources:
        result.removed.append(f"instance {instance_id}")
    return InstanceOutcome.GONE


def shared_used(
    job: Job, made: set[tuple[str, str]], also: Callable[[SharedKind], bool] = lambda _: False
) -> list[tuple[SharedKind, str]]:
    """The shared resources `job` used that are in `made` (or that `also` vouches for)."""
    found = []
    for kind in SHARED:
        name = kind.output(job.outputs) or job.created_resources.get(kind.created) or ""
        if name and ((kind.created, name) in made or also(kind)):
            found.append((kind, name))
    return found


def remove_shared(
    candidates: list[tuple[SharedKind, str]],
    resources: DrillResources,
    other_jobs: list[Job],
    result: Cleanup,
    last_user: str = "the last drill to use it removes it",
) -> None:
    """Delete each candidate nothing uses (no instance holds it, no unfinished job names it); say why one stays."""
    if not candidates:
        return
    users = resources.instances()
    for kind, name in candidates:
        label = kind.label
        user = _user_of(kind, name, users, other_jobs)
        if user is not None:
            result.kept.append(f"{label} {name} (in use by {user}; {last_user})")
            continue
        delete = {
            OPTION_GROUP: resources.delete_option_group,
            SUBNET_GROUP: resources.delete_subnet_group,
            SECURITY_GROUP: resources.delete_security_group,
        }[kind]
        try:
            delete(name)
        except RdsbotError as exc:
            # An option group stays "in use" while the instance's snapshots refer to it: try again later.
            result.waiting.append(f"{label} {name}: {exc}")
            continue
        result.removed.append(f"{label} {name}")


def _user_of(kind: SharedKind, name: str, users: list[InstanceUse], other_jobs: list[Job]) -> str | None:
    for use in users:
        held = {
            OPTION_GROUP: use.option_groups,
            SUBNET_GROUP: (use.subnet_group,),
            SECURITY_GROUP: use.security_groups,
        }[kind]
        if name in held:
            return f"instance {use.instance_id}"
    for other in other_jobs:
        if kind.output(other.outputs) == name:
            return f"job {other.id}"
    return None
