"""Removing what a drill created: the instance (no final snapshot), then the shared resources it created, if
nothing else uses them. Each call does what it can and says what is left, so the runner retries until gone."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from bot.domain import InstanceState, Job
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


# A shared resource: how cleanup names it, the job output that says a job used it, the key that says a job made it.
SHARED = (
    ("option group", "option_group", "option_group"),
    ("subnet group", "subnet_group", "subnet_group"),
    ("security group", "security_group_id", "security_group"),
)


def made_by_drills(recent_jobs: Iterable[Job]) -> set[tuple[str, str]]:
    """(kind, name) of the shared resources whose newest creator among `recent_jobs` (newest first) is a drill.

    Drills of different specs share one option group, subnet group and security group. Whichever drill made them,
    the last drill to stop using them removes them; one a real restore made (or made again later) is never ours.
    """
    shared_kinds = {kind for _, _, kind in SHARED}
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
    recent_jobs: Iterable[Job],
) -> Cleanup:
    """One pass; call again until `done`. Nothing is deleted that this drill's job, or another drill, did not
    create; `other_jobs` are the unfinished jobs that may be about to use a shared resource."""
    result = Cleanup()
    instance_id = job.plan.target_instance_id
    state = instances.find(instance_id)
    if state is not None and state.tags.get("rdsbot-job-id") != job.id:
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


def _drill_made(run: DrillRun, job: Job, recent_jobs: Iterable[Job]) -> list[tuple[str, str]]:
    """(label, name) of the shared resources this job used that a drill made."""
    made = made_by_drills(recent_jobs) | set(job.created_resources.items())
    found = []
    for label, output, kind in SHARED:
        name = str(job.outputs.get(output) or job.created_resources.get(kind) or "")
        # Runs from before jobs recorded their option group knew it only by looking first.
        legacy = kind == "option_group" and run.option_group_preexisted is False
        if name and ((kind, name) in made or legacy):
            found.append((label, name))
    return found


def _shared(
    candidates: list[tuple[str, str]], resources: DrillResources, other_jobs: list[Job], result: Cleanup
) -> None:
    if not candidates:
        return
    users = resources.instances()
    for label, name in candidates:
        user = _user_of(label, name, users, other_jobs)
        if user is not None:
            result.kept.append(f"{label} {name} (in use by {user}; the last drill to use it removes it)")
            continue
        delete = {
            "option group": resources.delete_option_group,
            "subnet group": resources.delete_subnet_group,
            "security group": resources.delete_security_group,
        }[label]
        try:
            delete(name)
        except RdsbotError as exc:
            # An option group stays "in use" while the instance's snapshots refer to it: try again later.
            result.waiting.append(f"{label} {name}: {exc}")
            continue
        result.removed.append(f"{label} {name}")


def _user_of(label: str, name: str, users: list[InstanceUse], other_jobs: list[Job]) -> str | None:
    for use in users:
        held = {
            "option group": use.option_groups,
            "subnet group": (use.subnet_group,),
            "security group": use.security_groups,
        }[label]
        if name in held:
            return f"instance {use.instance_id}"
    output = next(out for shared_label, out, _ in SHARED if shared_label == label)
    for other in other_jobs:
        if other.outputs.get(output) == name:
            return f"job {other.id}"
    return None
