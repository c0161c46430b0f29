"""Removing what a drill created: the instance (no final snapshot), then the shared resources it created, if
nothing else uses them. Each call does what it can and says what is left, so the runner retries until gone."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from bot import tags
from bot.domain import InstanceState, Job, StageOutputs
from bot.drills.runs import DrillRun
from bot.errors import RdsbotError
from bot.ports import DrillResources, InstanceUse


class DrillInstances(Protocol):
    """The part of the instance gateway a cleanup uses."""

    def find(self, instance_id: str) -> InstanceState | None: ...

    def delete(self, instance_id: str) -> None: ...


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
    """A kind of resource drills share: how cleanup names it, the job output that says a job used one, and the
    created_resources key that says a job made it."""

    label: str
    output: Callable[[StageOutputs], str | None]
    created: str


OPTION_GROUP = SharedKind("option group", lambda outputs: outputs.option_group, "option_group")
SUBNET_GROUP = SharedKind("subnet group", lambda outputs: outputs.subnet_group, "subnet_group")
SECURITY_GROUP = SharedKind("security group", lambda outputs: outputs.security_group_id, "security_group")
SHARED = (OPTION_GROUP, SUBNET_GROUP, SECURITY_GROUP)


def made_by_drills(recent_jobs: Iterable[Job]) -> set[tuple[str, str]]:
    """(kind, name) of the shared resources whose newest creator among `recent_jobs` (newest first) is a drill.

    Drills of different specs share one option group, subnet group and security group. Whichever drill made them,
    the last drill to stop using them removes them; one a real restore made (or made again later) is never ours.
    """
    shared_kinds = {kind.created for kind in SHARED}
    newest_creator_is_drill: dict[tuple[str, str], bool] = {}
    for job in recent_jobs:
        for kind, name in job.created_resources.items():
            if kind in shared_kinds:
                newest_creator_is_drill.setdefault((kind, name), job.is_drill)
    return {key for key, is_drill in newest_creator_is_drill.items() if is_drill}


def clean_up(
    run: DrillRun,
    job: Job,
    instances: DrillInstances,
    resources: DrillResources,
    other_jobs: list[Job],
    recent_jobs: Callable[[], Iterable[Job]],
) -> Cleanup:
    """One pass; call again until `done`. Nothing is deleted that this drill's job, or another drill, did not
    create; `other_jobs` are the unfinished jobs that may be about to use a shared resource, and `recent_jobs`
    (newest first) say who made one, read only once the instance is gone."""
    result = Cleanup()
    instance_id = job.plan.target_instance_id
    state = instances.find(instance_id)
    if state is not None and not tags.made_by_job(state.tags, job.id):
        result.kept.append(f"instance {instance_id} (not created by job {job.id})")
    elif state is not None:
        if state.status != "deleting":
            instances.delete(instance_id)
        if instances.find(instance_id) is not None:
            # Shared resources wait: the instance still holds its option group and security group.
            result.waiting.append(f"instance {instance_id} deleting")
            return result
        result.removed.append(f"instance {instance_id}")
    elif "instance" in job.created_resources:
        result.removed.append(f"instance {instance_id}")
    _shared(_drill_made(run, job, recent_jobs), resources, other_jobs, result)
    return result


def _drill_made(run: DrillRun, job: Job, recent_jobs: Callable[[], Iterable[Job]]) -> list[tuple[SharedKind, str]]:
    """The shared resources this job used that a drill made."""
    made = made_by_drills(recent_jobs()) | set(job.created_resources.items())
    found = []
    for kind in SHARED:
        name = kind.output(job.outputs) or job.created_resources.get(kind.created) or ""
        # Runs from before jobs recorded their option group knew it only by looking first.
        legacy = kind == OPTION_GROUP and run.option_group_preexisted is False
        if name and ((kind.created, name) in made or legacy):
            found.append((kind, name))
    return found


def _shared(
    candidates: list[tuple[SharedKind, str]], resources: DrillResources, other_jobs: list[Job], result: Cleanup
) -> None:
    if not candidates:
        return
    users = resources.instances()
    for kind, name in candidates:
        label = kind.label
        user = _user_of(kind, name, users, other_jobs)
        if user is not None:
            result.kept.append(f"{label} {name} (in use by {user}; the last drill to use it removes it)")
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
