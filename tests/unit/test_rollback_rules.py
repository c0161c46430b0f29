"""Rolling back a restore (`cancel <job> --rollback`, the "Clean up" button): what the job created goes, with no
final snapshot, only once the job has stopped, by the requester or an admin, audited; never an instance the job
did not create."""

from __future__ import annotations

from bot.domain import InstanceState, Job, JobStatus, StageName, StageStatus
from bot.errors import RestoreTaskError
from bot.lifecycle.model import LifecyclePhase
from bot.parser import parse_restore_command
from bot.workflow import Engine
from tests.unit.fakes import RecordingNotifier
from tests.unit.test_decisions import ADMIN, REQUESTER, STRANGER, no_email
from tests.unit.test_instance_lifecycle import MakingAws, World


class FailingRestoreAws(MakingAws):
    """rds_restore_database refuses (as RDS does for a corrupt .bak): the job fails after creating its instance."""

    def start_restore(self, instance, database_name, s3_arn, kms_key_arn=None):
        raise RestoreTaskError("the backup set is not valid", "Msg 3241")


def engine(world: World) -> Engine:
    return Engine(world.store.jobs, world.aws.gateways, world.policy, RecordingNotifier(), world.clock, 5)


def running(world: World) -> Job:
    job = world.service.submit(parse_restore_command("prod-backup.bak db.m5.large"), REQUESTER, approved=True).job
    for _ in range(20):  # a bound, not a wait: each tick advances the fake one poll
        engine(world).tick()
        current = world.store.jobs.get_job(job.id)
        assert current is not None
        if current.stage(StageName.RESTORE_WAIT).status == StageStatus.RUNNING:
            return current
    raise AssertionError("the restore never reached restore_wait")


def test_a_cancelled_restore_loses_its_instance_and_groups_with_no_final_snapshot_once_it_has_stopped():
    world = World(final_snapshot=True)  # the policy's final snapshot is for kept instances, not rollbacks
    job = running(world)
    assert world.store.jobs.request_cancel(job.id, REQUESTER)
    reply = world.commands.rollback(job.id, REQUESTER, no_email)
    assert reply.ok and "rolling back" in reply.text
    world.runner().tick()
    assert "delete_instance" not in world.aws.calls  # still stopping: the engine owns the instance until then
    engine(world).run_until_idle(600)
    assert world.store.jobs.by_id[job.id].status == JobStatus.CANCELLED
    world.runner().tick()
    assert world.phase(job) == LifecyclePhase.DELETED
    assert job.plan.target_instance_id not in world.aws.instances and world.aws.snapshots == {}
    assert world.resources.deleted == [job.outputs.option_group, "rdsbot-vpc-1", "sg-1"]
    actions = [e.action for e in world.store.audit.audit_events(job.id)]
    assert actions[-1] == "instance.deleted" and "instance.delete_requested" in actions
    deleted = world.store.audit.audit_events(job.id)[-1].detail
    assert f"instance {job.plan.target_instance_id}" in deleted["removed"] and deleted["final_snapshot"] is None


def test_an_admin_cleans_up_a_failed_restore():
    world = World()
    world.aws = FailingRestoreAws()
    world.resources.aws = world.aws
    world.service.gateways_for = world.aws.gateways
    job = world.service.submit(parse_restore_command("prod-backup.bak db.m5.large"), REQUESTER, approved=True).job
    engine(world).run_until_idle(600)
    failed = world.store.jobs.by_id[job.id]
    assert failed.status == JobStatus.FAILED and failed.created_resources["instance"]
    assert world.commands.rollback(job.id, ADMIN, no_email).ok
    world.runner().tick()
    assert failed.plan.target_instance_id not in world.aws.instances and world.aws.snapshots == {}


def test_someone_neither_requester_nor_admin_cannot_roll_back_and_the_refusal_is_audited():
    world = World()
    job = running(world)
    world.store.jobs.request_cancel(job.id, REQUESTER)
    reply = world.commands.rollback(job.id, STRANGER, no_email)
    assert not reply.ok
    assert "instance.delete_refused" in [e.action for e in world.store.audit.audit_events(job.id)]
    assert world.lifecycles.get(job.id) is None


def test_a_succeeded_restore_is_pointed_to_delete_which_keeps_the_final_snapshot():
    world = World()
    job = world.restored()
    reply = world.commands.rollback(job.id, REQUESTER, no_email)
    assert not reply.ok and f"/rds-restore delete {job.id}" in reply.text


def test_a_running_restore_must_be_cancelled_to_be_rolled_back():
    world = World()
    job = running(world)
    reply = world.commands.rollback(job.id, REQUESTER, no_email)
    assert not reply.ok and f"cancel {job.id} --rollback" in reply.text
    assert world.lifecycles.get(job.id) is None


def test_an_into_job_rolls_back_nothing_and_its_instance_stays():
    world = World()
    world.aws.option_groups["theirs"] = {"SQLSERVER_BACKUP_RESTORE"}
    world.aws.instances["rdsbot-kept"] = InstanceState(
        instance_id="rdsbot-kept",
        status="available",
        instance_class="db.m5.large",
        option_group_name="theirs",
        option_group_status="in-sync",
        endpoint_address="rdsbot-kept.example",
        endpoint_port=1433,
        engine="sqlserver-se",
        tags={"managed-by": "rdsbot", "rdsbot-job-id": "jearlier"},
    )
    text = "prod-backup.bak --into rdsbot-kept --db other"
    job = world.service.submit(parse_restore_command(text), REQUESTER, approved=True).job
    engine(world).tick()
    world.store.jobs.request_cancel(job.id, REQUESTER)
    engine(world).run_until_idle(600)
    for act in (world.commands.rollback, world.commands.delete):
        reply = act(job.id, REQUESTER, no_email)
        assert not reply.ok and "deletes only instances its jobs created" in reply.text
    world.runner().tick()
    assert "rdsbot-kept" in world.aws.instances and "delete_instance" not in world.aws.calls
