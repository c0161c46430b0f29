"""Removing what a drill created: the instance (no final snapshot), then the shared resources it created, if
nothing else uses them. Each call does what it can and says what is left, so the runner retries until gone."""

from __future__ import annotations

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


def clean_up(
    run: DrillRun, job: Job, instances: DrillInstances, resources: DrillResources, other_jobs: list[Job]
) -> Cleanup:
    """One pass; call again until `done`. Nothing is deleted that this drill's job did not create."""
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
    _shared(run, job, resources, other_jobs, result)
    return result


def _shared(run: DrillRun, job: Job, resources: DrillResources, other_jobs: list[Job], result: Cleanup) -> None:
    candidates: list[tuple[str, str]] = []
    option_group = job.outputs.get("option_group")
    if option_group and run.option_group_preexisted is False:
        candidates.append(("option group", str(option_group)))
    for kind, label in (("subnet_group", "subnet group"), ("security_group", "security group")):
        if kind in job.created_resources:
            candidates.append((label, job.created_resources[kind]))
    if not candidates:
        return
    users = resources.instances()
    for label, name in candidates:
        user = _user_of(label, name, users, other_jobs)
        if user is not None:
            result.kept.append(f"{label} {name} (in use by {user})")
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
    output = {"option group": "option_group", "subnet group": "subnet_group", "security group": "security_group_id"}
    for other in other_jobs:
        if other.outputs.get(output[label]) == name:
            return f"job {other.id}"
    return None
