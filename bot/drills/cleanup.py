"""Removing what a drill created: the instance (no final snapshot), then the shared resources it used, if a job
that ends made them and nothing else uses them. The rule is bot/instance_cleanup.py, shared with every restore's
lifecycle; each call does what it can and says what is left, so the runner retries until gone."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bot.domain import Job
from bot.drills.runs import DrillRun
from bot.instance_cleanup import (
    OPTION_GROUP,
    Cleanup,
    CleanupInstances,
    InstanceOutcome,
    SharedKind,
    made_by_ending_jobs,
    remove_instance,
    remove_shared,
    shared_used,
)
from bot.ports import DrillResources

__all__ = ["Cleanup", "clean_up"]


def clean_up(
    run: DrillRun,
    job: Job,
    instances: CleanupInstances,
    resources: DrillResources,
    other_jobs: list[Job],
    recent_jobs: Callable[[], Iterable[Job]],
) -> Cleanup:
    """One pass; call again until `done`. Nothing is deleted that this drill's job, or another job that ends, did
    not create; `other_jobs` are the unfinished jobs that may be about to use a shared resource, and `recent_jobs`
    (newest first) say who made one, read only once the instance is gone."""
    result = Cleanup()
    if remove_instance(job, instances, result) == InstanceOutcome.WAITING:
        return result  # shared resources wait: the instance still holds its option group and security group
    made = made_by_ending_jobs(recent_jobs()) | set(job.created_resources.items())

    def legacy(kind: SharedKind) -> bool:
        # Runs from before jobs recorded their option group knew it only by looking first.
        return kind == OPTION_GROUP and run.option_group_preexisted is False

    remove_shared(shared_used(job, made, legacy), resources, other_jobs, result)
    return result
