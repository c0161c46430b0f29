"""A restored instance's life on fakes: scheduled when its job ends, reminded before its keep window ends, deleted
(final snapshot per policy) with the shared resources only it used, resumed after a crash without a second delete,
never when the live instance is not the job's; the keep button and /rds-restore delete, authorized and audited."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.authz import Authorizer
from bot.domain import Job, JobStatus, NetworkPlacement
from bot.lifecycle.commands import LifecycleCommands
from bot.lifecycle.model import LifecyclePhase
from bot.lifecycle.runner import LifecycleRunner, goes_text
from bot.parser import parse_restore_command
from bot.ports import (
    EnsuredOptionGroup,
    InstanceLifecycles,
    InstanceUse,
    NetworkSpec,
    Notifier,
    OptionGroupSpec,
)
from bot.service import RestoreService
from bot.workflow import Engine
from config.policy_model import Policy, parse_policy
from tests.support.factories import BOT_NETWORK
from tests.unit.fakes import FakeAws, FakeClock, FakeSharedResources, RecordingNotifier
from tests.unit.memory_store import MemoryStore
from tests.unit.test_decisions import ADMIN, ADMINS, REQUESTER, STRANGER, FakeDirectory, no_email


class SimulatedCrash(BaseException):
    """The process dies between two statements; nothing in the runner may catch it."""


class MakingAws(FakeAws):
    """FakeAws whose network and option group are made by the job, as on a fresh account."""

    def ensure_placement(self, spec: NetworkSpec) -> NetworkPlacement:
        placed = super().ensure_placement(spec)
        return placed.model_copy(update={"created": ("subnet_group", "security_group")})

    def ensure_option_group(self, spec: OptionGroupSpec) -> EnsuredOptionGroup:
        return super().ensure_option_group(spec).model_copy(update={"created": True})


class Resources(FakeSharedResources):
    """The shared groups as the fake's instances hold them, besides `users` rdsbot knows nothing about."""

    def __init__(self, aws: FakeAws) -> None:
        super().__init__()
        self.aws = aws

    def instances(self) -> list[InstanceUse]:
        specs = {s.instance_id: s for s in self.aws.instance_specs}
        return self.users + [
            InstanceUse(
                instance_id=i,
                status=state.status,
                option_groups=(specs[i].option_group_name,),
                subnet_group=specs[i].subnet_group_name,
                security_groups=specs[i].security_group_ids,
            )
            for i, state in self.aws.instances.items()
        ]


class World:
    def __init__(self, final_snapshot: bool = True) -> None:
        self.policy: Policy = parse_policy(
            {
                "backups": {"default_bucket": "rdsbot-backups"},
                "network": BOT_NETWORK,
                "lifecycle": {
                    "default_keep": "24h",
                    "max_keep": "7d",
                    "extend_by": "24h",
                    "final_snapshot": final_snapshot,
                },
            }
        )
        self.aws, self.store, self.clock = MakingAws(), MemoryStore(), FakeClock()
        self.resources = Resources(self.aws)
        self.notifier = RecordingNotifier()
        self.service = RestoreService(self.store.jobs, self.store.audit, self.aws.gateways, self.policy, self.clock)
        self.commands = LifecycleCommands(
            self.policy,
            self.store.lifecycles,
            self.store.jobs,
            self.store.audit,
            Authorizer(FakeDirectory(ADMINS), self.policy),
            self.notifier,
            self.clock,
        )

    @property
    def lifecycles(self) -> InstanceLifecycles:
        return self.store.lifecycles

    def runner(self, notifier: Notifier | None = None) -> LifecycleRunner:
        """A fresh runner on the same store: what a restarted bot builds."""
        return LifecycleRunner(
            self.policy,
            self.store.lifecycles,
            self.store.jobs,
            lambda region: self.aws,
            lambda region: self.resources,
            notifier or self.notifier,
            self.clock,
        )

    def restored(self, text: str = "prod-backup.bak db.m5.large --keep 2m") -> Job:
        job = self.service.submit(parse_restore_command(text), REQUESTER, approved=True).job
        Engine(self.store.jobs, self.aws.gateways, self.policy, RecordingNotifier(), self.clock, 5).run_until_idle()
        done = self.store.jobs.get_job(job.id)
        assert done is not None and done.status == JobStatus.SUCCEEDED
        return done

    def phase(self, job: Job) -> LifecyclePhase:
        record = self.lifecycles.get(job.id)
        assert record is not None
        return record.phase

    def at(self, job: Job, after_completion: timedelta) -> None:
        assert job.finished_at is not None
        self.clock.current = job.finished_at + after_completion

    def reminders(self) -> list[str]:
        return [m for m in self.notifier.messages if m.startswith("reminder")]


def test_a_2m_restore_is_reminded_30s_before_then_deleted_with_a_final_snapshot_and_what_only_it_used():
    world = World()
    job = world.restored()
    runner = world.runner()
    runner.tick()
    record = world.lifecycles.get(job.id)
    assert record is not None and record.phase == LifecyclePhase.KEEPING
    assert job.finished_at is not None and record.delete_at == job.finished_at + timedelta(minutes=2)

    world.at(job, timedelta(seconds=89))
    runner.tick()
    assert world.reminders() == []
    world.at(job, timedelta(seconds=90))  # a quarter of 2m before the end
    runner.tick()
    runner.tick()
    assert world.reminders() == [f"reminder {job.id} {record.delete_at:%H:%M:%S}"]  # once
    assert "delete_instance" not in world.aws.calls

    world.at(job, timedelta(minutes=2))
    runner.tick()
    assert world.phase(job) == LifecyclePhase.DELETED
    assert world.aws.instances == {} and world.aws.calls.count("delete_instance") == 1
    snapshot = f"rdsbot-final-{job.id}-{job.plan.target_instance_id}"
    assert world.aws.snapshots[snapshot]["rdsbot-job-id"] == job.id
    # The snapshot needs its option group; the subnet and security groups only this job used go.
    assert world.resources.deleted == ["rdsbot-vpc-1", "sg-1"]
    done = world.lifecycles.get(job.id)
    assert done is not None
    assert done.removed == [
        f"instance {job.plan.target_instance_id}",
        "subnet group rdsbot-vpc-1",
        "security group sg-1",
    ]
    assert done.kept == [f"option group {job.outputs.option_group} (the final snapshot {snapshot} needs it)"]
    assert world.store.actions(job.id)[-4:] == [
        "job.succeeded",
        "instance.reminded",
        "instance.delete_started",
        "instance.deleted",
    ]


def test_before_the_runner_tracks_a_finished_restore_status_already_says_when_it_goes():
    # /rds-status may be asked between the job's save and the reconciler's next tick: it must say the same time
    # the thread message said, not "2m after it ends" for a restore that has ended.
    world = World()
    job = world.restored()
    assert world.lifecycles.get(job.id) is None and job.finished_at is not None
    untracked = goes_text(None, job)
    world.runner().tick()
    assert untracked == goes_text(world.lifecycles.get(job.id), job)
    assert untracked == f"{job.finished_at + timedelta(minutes=2):%Y-%m-%d %H:%M} UTC"
    running = job.model_copy(update={"status": JobStatus.RUNNING, "finished_at": None})
    assert goes_text(None, running) == "2m after it ends"


def test_without_a_final_snapshot_the_option_group_goes_too():
    world = World(final_snapshot=False)
    job = world.restored()
    world.at(job, timedelta(minutes=3))
    world.runner().tick()
    assert world.phase(job) == LifecyclePhase.DELETED and world.aws.snapshots == {}
    assert world.resources.deleted == [job.outputs.option_group, "rdsbot-vpc-1", "sg-1"]


def test_a_group_another_instance_holds_is_kept_while_the_others_go():
    world = World(final_snapshot=False)
    job = world.restored()
    option_group = job.outputs.option_group or ""
    world.resources.users.append(
        InstanceUse(instance_id="someones-db", status="available", option_groups=(option_group,))
    )
    world.at(job, timedelta(minutes=2))
    world.runner().tick()
    done = world.lifecycles.get(job.id)
    assert done is not None and done.phase == LifecyclePhase.DELETED
    assert world.resources.deleted == ["rdsbot-vpc-1", "sg-1"]
    assert done.kept == [
        f"option group {option_group} (in use by instance someones-db; the last job to use it removes it)"
    ]


def test_a_group_rds_will_not_let_go_yet_is_retried_next_pass_while_the_others_go_now():
    world = World(final_snapshot=False)
    world.resources.busy_option_group = 1
    job = world.restored()
    world.at(job, timedelta(minutes=2))
    world.runner().tick()
    waiting = world.lifecycles.get(job.id)
    assert waiting is not None and waiting.phase == LifecyclePhase.DELETING
    assert world.resources.deleted == ["rdsbot-vpc-1", "sg-1"]
    assert waiting.waiting is not None and "InvalidOptionGroupStateFault" in waiting.waiting
    world.runner().tick()
    assert world.phase(job) == LifecyclePhase.DELETED
    assert world.resources.deleted == ["rdsbot-vpc-1", "sg-1", job.outputs.option_group]  # each asked once


def test_an_instance_already_deleted_by_hand_counts_as_removed_and_its_groups_go():
    world = World(final_snapshot=False)
    job = world.restored()
    del world.aws.instances[job.plan.target_instance_id]
    world.at(job, timedelta(minutes=2))
    world.runner().tick()
    done = world.lifecycles.get(job.id)
    assert done is not None and done.removed[0] == f"instance {job.plan.target_instance_id}"
    assert world.aws.calls.count("delete_instance") == 0 and len(world.resources.deleted) == 3


def test_shared_resources_another_instance_still_uses_are_kept_for_the_last_user():
    world = World()
    first = world.restored()
    second = world.restored()  # reuses the same groups (the fake names them the same)
    world.at(first, timedelta(minutes=2))
    world.runner().tick()
    assert world.phase(first) == LifecyclePhase.DELETED and world.phase(second) == LifecyclePhase.KEEPING
    assert world.resources.deleted == []  # the second instance holds them
    world.at(second, timedelta(minutes=2))
    world.runner().tick()
    assert world.resources.deleted == ["rdsbot-vpc-1", "sg-1"]


def test_a_crash_mid_delete_resumes_without_a_second_delete_call():
    world = World()
    world.aws.polls_until_deleted = 3  # RDS takes a while to delete
    job = world.restored()
    world.runner().tick()
    world.at(job, timedelta(minutes=2))

    class CrashAfterClaim(RecordingNotifier):
        def lifecycle_changed(self, job, lifecycle, text):
            raise SimulatedCrash("after the claim was stored, before DeleteDBInstance")

    with pytest.raises(SimulatedCrash):
        world.runner(CrashAfterClaim()).tick()
    assert world.phase(job) == LifecyclePhase.DELETING and "delete_instance" not in world.aws.calls

    world.runner().tick()  # restarted: the claim is resumed, DeleteDBInstance asked once
    assert world.aws.calls.count("delete_instance") == 1 and world.phase(job) == LifecyclePhase.DELETING
    for _ in range(5):  # restarted again while RDS is still deleting: never asked twice
        world.runner().tick()
    assert world.aws.calls.count("delete_instance") == 1
    assert world.phase(job) == LifecyclePhase.DELETED and world.aws.instances == {}


def test_an_instance_not_tagged_as_the_jobs_is_never_deleted():
    world = World()
    job = world.restored()
    instance_id = job.plan.target_instance_id
    # Deleted by hand since, and an instance of the same name made outside rdsbot (or by another job).
    world.aws.instances[instance_id] = world.aws.instances[instance_id].model_copy(
        update={"tags": {"managed-by": "rdsbot", "rdsbot-job-id": "jsomeoneelse"}}
    )
    world.at(job, timedelta(minutes=2))
    world.runner().tick()

    assert world.phase(job) == LifecyclePhase.LEFT_ALONE
    assert "delete_instance" not in world.aws.calls and world.resources.deleted == []
    assert instance_id in world.aws.instances
    assert world.store.actions(job.id)[-1] == "instance.left_alone"
    assert any("will not delete it" in m for m in world.notifier.messages)


def test_the_requester_keeps_it_a_day_longer_and_is_reminded_again_before_the_new_end():
    world = World()
    job = world.restored()
    runner = world.runner()
    runner.tick()
    world.at(job, timedelta(seconds=100))
    runner.tick()
    assert len(world.reminders()) == 1

    reply = world.commands.keep_more(job.id, REQUESTER, no_email)  # the requester, not an admin

    assert reply.ok
    record = world.lifecycles.get(job.id)
    assert job.finished_at is not None and record is not None
    assert record.delete_at == job.finished_at + timedelta(minutes=2) + timedelta(days=1)
    world.at(job, timedelta(minutes=3))
    runner.tick()
    assert world.phase(job) == LifecyclePhase.KEEPING and "delete_instance" not in world.aws.calls
    world.at(job, timedelta(days=1, minutes=2) - timedelta(hours=1))  # an hour before the new end
    runner.tick()
    assert len(world.reminders()) == 2
    assert world.store.actions(job.id).count("instance.keep_extended") == 1


def test_someone_neither_requester_nor_admin_cannot_keep_or_delete_and_the_refusal_is_audited():
    world = World()
    job = world.restored()
    world.runner().tick()
    before = world.lifecycles.get(job.id)

    kept = world.commands.keep_more(job.id, STRANGER, no_email)
    deleted = world.commands.delete(job.id, STRANGER, no_email)

    assert not kept.ok and "only the requester or members of rds-admins may keep instance" in kept.text
    assert not deleted.ok and "may delete instance" in deleted.text
    assert world.lifecycles.get(job.id) == before and "delete_instance" not in world.aws.calls
    assert world.store.actions(job.id)[-2:] == ["instance.keep_refused", "instance.delete_refused"]


def test_an_admin_keeps_it_up_to_the_maximum_counted_from_completion_and_no_further():
    world = World()
    job = world.restored("prod-backup.bak db.m5.large --keep 6d")
    world.runner().tick()
    assert world.commands.keep_more(job.id, ADMIN, no_email).ok  # 6d -> 7d
    at_cap = world.commands.keep_more(job.id, ADMIN, no_email)

    record = world.lifecycles.get(job.id)
    assert job.finished_at is not None and record is not None
    assert record.delete_at == job.finished_at + timedelta(days=7)
    assert not at_cap.ok and "already kept to the maximum, 7d after the restore completed" in at_cap.text
    assert world.store.actions(job.id)[-2:] == ["instance.keep_extended", "instance.keep_refused"]


def test_the_requester_deletes_now_and_the_runner_carries_it_out_once():
    world = World()
    job = world.restored("prod-backup.bak db.m5.large --keep 7d")
    world.runner().tick()

    reply = world.commands.delete(job.id, REQUESTER, no_email)
    again = world.commands.delete(job.id, ADMIN, no_email)

    assert reply.ok and f"rdsbot-final-{job.id}" in reply.text
    assert again.text == f"{job.plan.target_instance_id} is already being deleted"
    assert world.commands.keep_more(job.id, REQUESTER, no_email).ok is False  # too late to keep it
    world.runner().tick()
    assert world.phase(job) == LifecyclePhase.DELETED and world.aws.calls.count("delete_instance") == 1
    assert "instance.delete_requested" in world.store.actions(job.id)
    assert "instance.delete_started" not in world.store.actions(job.id)  # a person started it, not the window


def test_jobs_planned_before_keep_windows_are_never_deleted_by_the_window():
    world = World()
    job = world.restored()
    legacy = job.plan.model_copy(update={"keep_seconds": None, "final_snapshot": None})
    world.store.jobs.by_id[job.id] = world.store.jobs.by_id[job.id].model_copy(update={"plan": legacy})
    world.at(job, timedelta(days=30))
    world.runner().tick()
    assert world.phase(job) == LifecyclePhase.UNMANAGED and "delete_instance" not in world.aws.calls
    # Asked for explicitly by its requester, it goes.
    assert world.commands.delete(job.id, REQUESTER, no_email).ok
    world.runner().tick()
    assert world.phase(job) == LifecyclePhase.DELETED
