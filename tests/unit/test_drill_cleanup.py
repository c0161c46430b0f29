"""Cleanup after a drill removes only what the drill created and nothing still in use, and says what is left."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain import BackupLocation, InstanceState, Job, RestoreRequest, StageOutputs
from bot.drills.cleanup import clean_up
from bot.drills.runs import DrillRun
from bot.instance_cleanup import made_by_ending_jobs
from bot.policy import plan_restore
from bot.ports import InstanceUse
from config.policy_model import load_policy
from tests.unit.fakes import FakeSharedResources

NOW = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)


def drill_job(job_id: str = "jdrill001") -> Job:
    request = RestoreRequest(backup=BackupLocation(key="prod-backup.bak"), instance_class="db.m6i.large")
    plan = plan_restore(request, load_policy(None), job_id, drill=True)
    job = Job(id=job_id, requester="drill:nightly", plan=plan, created_at=NOW)
    job.is_drill = True
    job.outputs = StageOutputs(
        option_group="rdsbot-sqlserver-se-15-00", subnet_group="rdsbot-vpc-1", security_group_id="sg-1"
    )
    job.created_resources.update(
        instance=job.plan.target_instance_id, subnet_group="rdsbot-vpc-1", security_group="sg-1"
    )
    return job


class Instances:
    def __init__(self, *states: InstanceState, lingering: bool = False) -> None:
        self.states = {s.instance_id: s for s in states}
        self.lingering = lingering  # deleting takes a while, as on AWS
        self.deleted: list[str] = []

    def find(self, instance_id: str) -> InstanceState | None:
        return self.states.get(instance_id)

    def delete(self, instance_id: str, final_snapshot_id: str | None = None) -> None:
        assert final_snapshot_id is None, "drills never keep a final snapshot"
        self.deleted.append(instance_id)
        if self.lingering:
            self.states[instance_id] = self.states[instance_id].model_copy(update={"status": "deleting"})
        else:
            self.states.pop(instance_id, None)


def ours(job: Job) -> InstanceState:
    return InstanceState(
        instance_id=job.plan.target_instance_id,
        status="available",
        instance_class="db.m6i.large",
        tags={"managed-by": "rdsbot", "rdsbot-job-id": job.id, "rdsbot-drill": "true"},
    )


def drill_run(preexisted: bool) -> DrillRun:
    return DrillRun(
        id="d1",
        drill_name="nightly",
        trigger="schedule",
        created_at=NOW,
        rto_minutes=60,
        option_group_preexisted=preexisted,
    )


def test_the_instance_goes_first_and_shared_resources_wait_until_it_is_gone():
    job = drill_job()
    instances, resources = Instances(ours(job), lingering=True), FakeSharedResources()
    history_reads: list[int] = []

    def history() -> list[Job]:
        history_reads.append(1)
        return [job]

    result = clean_up(drill_run(False), job, instances, resources, [], history)
    assert not result.done and result.waiting == [f"instance {job.plan.target_instance_id} deleting"]
    assert resources.deleted == [] and history_reads == []  # no job history read while the instance lingers
    instances.states.clear()  # RDS finished deleting
    result = clean_up(drill_run(False), job, instances, resources, [], history)
    assert result.done and resources.deleted == ["rdsbot-sqlserver-se-15-00", "rdsbot-vpc-1", "sg-1"]
    assert history_reads == [1]


def test_shared_resources_in_use_or_not_created_by_the_drill_are_kept():
    job = drill_job()
    neighbour = InstanceUse(instance_id="prod-copy", status="available", security_groups=("sg-1",))
    other_job = drill_job("jother001")
    other_job.outputs.subnet_group = "rdsbot-vpc-1"
    resources = FakeSharedResources(neighbour)
    result = clean_up(drill_run(True), job, Instances(ours(job)), resources, [other_job], lambda: [job])
    assert result.done and resources.deleted == []
    assert result.kept == [
        "subnet group rdsbot-vpc-1 (in use by job jother001; the last drill to use it removes it)",
        "security group sg-1 (in use by instance prod-copy; the last drill to use it removes it)",
    ]


def test_an_option_group_held_by_a_snapshot_is_retried_until_it_goes():
    job = drill_job()
    resources = FakeSharedResources(busy_option_group=1)
    first = clean_up(drill_run(False), job, Instances(), resources, [], lambda: [job])
    assert not first.done and "InvalidOptionGroupStateFault" in first.waiting[0]
    second = clean_up(drill_run(False), job, Instances(), resources, [], lambda: [job])
    assert second.done and "rdsbot-sqlserver-se-15-00" in resources.deleted


def test_an_instance_by_that_name_not_created_by_the_job_is_never_deleted():
    job = drill_job()
    stranger = ours(job).model_copy(update={"tags": {"rdsbot-job-id": "jsomeone"}})
    instances = Instances(stranger)
    result = clean_up(drill_run(True), job, instances, FakeSharedResources(), [], lambda: [job])
    assert instances.deleted == [] and result.kept[0].startswith(f"instance {job.plan.target_instance_id} (not created")


def reusing(job_id: str, created_at: datetime, *, is_drill: bool = True) -> Job:
    """A job that found the shared resources already there: it used them and created only its instance."""
    job = drill_job(job_id)
    job.created_at, job.is_drill = created_at, is_drill
    job.created_resources = {"instance": job.plan.target_instance_id}
    return job


def test_drills_side_by_side_leave_nothing_whichever_made_the_shared_resources():
    # Two drill specs fire in the same minute: the first made the shared resources, the second reused them.
    maker = drill_job("jmaker001")
    maker.created_resources["option_group"] = "rdsbot-sqlserver-se-15-00"
    user = reusing("juser0001", NOW.replace(minute=31))
    resources = FakeSharedResources()
    # The maker finishes first, while the other still runs: it keeps what the other uses.
    first = clean_up(drill_run(True), maker, Instances(), resources, [user], lambda: [user, maker])
    assert first.done and resources.deleted == [] and len(first.kept) == 3
    # The other finishes later and, being the last drill to use them, removes what the maker made.
    last = clean_up(drill_run(True), user, Instances(), resources, [], lambda: [user, maker])
    assert last.done and resources.deleted == ["rdsbot-sqlserver-se-15-00", "rdsbot-vpc-1", "sg-1"]


def test_shared_resources_a_real_restore_made_again_are_never_a_drills():
    old_drill = drill_job("jolddrill")
    restore = drill_job("jrestore1")  # deleted by hand since, then made again by a real restore
    restore.is_drill, restore.created_at = False, NOW.replace(minute=40)
    later_drill = reusing("jlater001", NOW.replace(minute=50))
    recent = [later_drill, restore, old_drill]
    assert made_by_ending_jobs(recent) == set()
    assert made_by_ending_jobs([old_drill]) == {("subnet_group", "rdsbot-vpc-1"), ("security_group", "sg-1")}
    resources = FakeSharedResources()
    result = clean_up(drill_run(True), later_drill, Instances(), resources, [], lambda: recent)
    assert result.done and resources.deleted == []
