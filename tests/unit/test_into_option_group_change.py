"""--into onto an instance whose option group lacks SQLSERVER_BACKUP_RESTORE: refused before any card naming
targets.allow_option_group_change unless it is true; then the card says exactly what changes, and the option_group
stage makes a copy of the instance's group with the option, applies it (ModifyDBInstance, ApplyImmediately), waits
for in-sync, records the previous group, and nothing of it is ever undone or deleted by rdsbot."""

import pytest

from bot import card_facts, names, render
from bot.domain import JobStatus
from bot.errors import RequestError
from bot.instance_cleanup import ends
from bot.parser import parse_restore_command
from bot.service import RestoreService
from bot.workflow import Engine
from config.policy_model import parse_policy
from tests.support.factories import BOT_NETWORK
from tests.unit.fakes import FakeAws, FakeClock, RecordingNotifier
from tests.unit.memory_store import MemoryStore
from tests.unit.test_decisions import REQUESTER, no_email
from tests.unit.test_instance_lifecycle import World
from tests.unit.test_into_rules import existing
from tests.unit.test_tde_rules import FLAGS

TEAM_GROUP = "team-sqlserver-se-15"  # carries TDE only: no SQLSERVER_BACKUP_RESTORE
NEW_GROUP = "rdsbot-into-rdsbot-staging-1-15-00"
REQUEST = "prod-backup.bak --into rdsbot-staging-1"


def policy(allow: bool):
    return parse_policy(
        {
            "backups": {"default_bucket": "rdsbot-backups"},
            "network": BOT_NETWORK,
            "targets": {"existing_instances": ["rdsbot-staging-*"], "allow_option_group_change": allow},
        }
    )


def world(allow: bool = True):
    aws, store, clock = FakeAws(), MemoryStore(), FakeClock()
    aws.option_groups[TEAM_GROUP] = {"TDE"}
    existing(aws, group=TEAM_GROUP)
    return aws, store, clock, RestoreService(store.jobs, store.audit, aws.gateways, policy(allow), clock)


def run(aws, store, clock, allow: bool = True):
    Engine(store.jobs, aws.gateways, policy(allow), RecordingNotifier(), clock, poll_seconds=5).run_until_idle(600)


def test_without_the_key_the_request_is_refused_before_any_card_naming_the_key():
    aws, store, _, service = world(allow=False)
    with pytest.raises(RequestError) as caught:
        service.submit(parse_restore_command(REQUEST), "U1")
    assert "targets.allow_option_group_change" in caught.value.message + (caught.value.hint or "")
    assert "SQLSERVER_BACKUP_RESTORE" in caught.value.message
    assert store.jobs.by_id == {} and aws.mutating == []


def test_the_card_says_which_group_is_copied_created_and_applied_with_which_role():
    aws, _, _, service = world()
    job = service.submit(parse_restore_command(REQUEST), "U1").job
    assert job.plan.into is not None and job.plan.into.new_option_group == NEW_GROUP
    assert aws.mutating == []  # nothing changes before approval
    lines = card_facts.card_lines(job, card_facts.PLAIN)
    change = [line for line in lines if line.startswith("CHANGES option group:")]
    assert change == [
        "CHANGES option group: team-sqlserver-se-15 lacks SQLSERVER_BACKUP_RESTORE: rdsbot creates option group "
        "rdsbot-into-rdsbot-staging-1-15-00 (a copy of team-sqlserver-se-15's options [TDE] plus "
        "SQLSERVER_BACKUP_RESTORE with IAM role rdsbot-native-restore) and applies it to rdsbot-staging-1 with "
        "ModifyDBInstance (ApplyImmediately; no reboot). rdsbot never puts the old group back; the job records it"
    ]
    assert not any("changes and deletes no instance, network or option group" in line for line in lines)
    confirm = card_facts.approve_confirmation(job)
    assert confirm == (
        "This restores prod_backup on the existing instance rdsbot-staging-1, "
        f"after giving it option group {NEW_GROUP}."
    )


def test_on_approval_a_copy_is_applied_waited_for_and_the_previous_group_recorded():
    aws, store, clock, service = world()
    job = service.submit(parse_restore_command(REQUEST), "U1", approved=True).job
    run(aws, store, clock)
    done = store.jobs.by_id[job.id]
    assert done.status == JobStatus.SUCCEEDED, done.error
    calls = aws.calls
    assert calls.index("ensure_restore_role") < calls.index("ensure_copy_option_group")
    assert calls.index("ensure_copy_option_group") < calls.index("apply_option_group")
    assert calls.index("apply_option_group") < calls.index("rds_restore_database")
    assert calls.count("apply_option_group") == 1 and "ensure_audit_role" not in calls
    (copy,) = aws.option_group_copies
    assert (copy.name, copy.source, copy.engine, copy.major_version) == (NEW_GROUP, TEAM_GROUP, "sqlserver-se", "15.00")
    assert aws.option_groups[NEW_GROUP] == {"TDE", "SQLSERVER_BACKUP_RESTORE"} and aws.option_groups[TEAM_GROUP] == {
        "TDE"
    }
    assert aws.instances["rdsbot-staging-1"].option_group_name == NEW_GROUP
    assert done.outputs.previous_option_group == TEAM_GROUP and done.outputs.option_group == NEW_GROUP
    events = store.audit.audit_events(job.id)
    stage = next(e for e in events if e.action == "stage.succeeded" and e.detail["stage"] == "option_group")
    assert f"previous option group {TEAM_GROUP}" in stage.detail["detail"]
    assert "--option-group-name team-sqlserver-se-15 --apply-immediately" in stage.detail["detail"]
    assert events[-1].detail["outputs"]["previous_option_group"] == TEAM_GROUP
    message = render.completion(done).plain()
    assert f"rdsbot applied {NEW_GROUP} to rdsbot-staging-1 (was {TEAM_GROUP})" in message
    assert "aws rds modify-db-instance --db-instance-identifier rdsbot-staging-1" in message


def test_rollback_and_delete_refuse_and_the_new_group_stays_applied():
    world = World()
    world.policy = policy(True)
    world.service = RestoreService(world.store.jobs, world.store.audit, world.aws.gateways, world.policy, world.clock)
    world.aws.option_groups[TEAM_GROUP] = {"TDE"}
    existing(world.aws, group=TEAM_GROUP)
    job = world.service.submit(parse_restore_command(REQUEST), REQUESTER, approved=True).job
    Engine(world.store.jobs, world.aws.gateways, world.policy, RecordingNotifier(), world.clock, 5).run_until_idle(600)
    done = world.store.jobs.get_job(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED, done.error if done else None
    assert done.created_resources == {} and not ends(done)
    for act in (world.commands.rollback, world.commands.delete):
        reply = act(job.id, REQUESTER, no_email)
        assert not reply.ok and f"{NEW_GROUP} it applied stays" in reply.text
    world.runner().tick()
    assert world.aws.instances["rdsbot-staging-1"].option_group_name == NEW_GROUP
    assert "delete_instance" not in world.aws.calls and NEW_GROUP in world.aws.option_groups


def test_a_bot_that_died_after_modify_db_instance_only_waits_on_resume():
    aws, store, clock, service = world()
    aws.polls_until_available = 3
    job = service.submit(parse_restore_command(REQUEST), "U1", approved=True).job
    engine = Engine(store.jobs, aws.gateways, policy(True), RecordingNotifier(), clock, poll_seconds=5)
    while "apply_option_group" not in aws.calls:
        engine.tick()
    saved = store.jobs.by_id[job.id]
    # A crash now would lose nothing: the instance itself says the new group is applying.
    saved.outputs.previous_option_group = None
    store.jobs.save_job(saved)
    run(aws, store, clock)
    done = store.jobs.by_id[job.id]
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert aws.calls.count("apply_option_group") == 1 and aws.calls.count("ensure_copy_option_group") == 1
    assert done.outputs.previous_option_group == TEAM_GROUP


def test_a_group_changed_by_someone_else_after_the_request_fails_the_job_and_changes_nothing():
    aws, store, clock, service = world()
    job = service.submit(parse_restore_command(REQUEST), "U1", approved=True).job
    aws.option_groups["other"] = {"SQLSERVER_AUDIT"}
    target = aws.instances["rdsbot-staging-1"]
    aws.instances["rdsbot-staging-1"] = target.model_copy(update={"option_group_name": "other"})
    run(aws, store, clock)
    done = store.jobs.by_id[job.id]
    assert done.status == JobStatus.FAILED and "not team-sqlserver-se-15 as when requested" in (done.error or "")
    assert "apply_option_group" not in aws.calls


def test_a_tde_restore_names_on_the_card_the_tde_role_the_copy_carries():
    """A TDE restore's role is the -tde one (it reads the certificate files and decrypts the .pvk's password), and
    the approver must see that role, the one the option_group stage puts in the copy."""
    tde_policy = parse_policy(
        {
            "backups": {"default_bucket": "rdsbot-backups", "allowed_buckets": ["rdsbot-backups", "rdsbot-certs"]},
            "network": BOT_NETWORK,
            "targets": {"existing_instances": ["rdsbot-staging-*"], "allow_option_group_change": True},
        }
    )
    aws, store, clock = FakeAws(), MemoryStore(), FakeClock()
    aws.option_groups[TEAM_GROUP] = {"TDE"}
    existing(aws, group=TEAM_GROUP)
    for key in ("rdsbot-backups/tde/db.bak", "rdsbot-backups/tde/db.cer", "rdsbot-certs/tde/db.pvk"):
        aws.objects[key] = 4096
    aws.metadata["rdsbot-certs/tde/db.pvk"] = {"rds-tde-pwd"}
    service = RestoreService(store.jobs, store.audit, aws.gateways, tde_policy, clock)
    job = service.submit(parse_restore_command(f"tde/db.bak --into rdsbot-staging-1 {FLAGS}"), "U1", approved=True).job
    role = names.restore_role_name(job.plan.role_kms_key_arns, tde=True)
    change = [line for line in card_facts.card_lines(job, card_facts.PLAIN) if line.startswith("CHANGES")]
    assert role.endswith("-tde") and len(change) == 1 and f"with IAM role {role})" in change[0]
    Engine(store.jobs, aws.gateways, tde_policy, RecordingNotifier(), clock, poll_seconds=5).run_until_idle(600)
    done = store.jobs.by_id[job.id]
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert [copy.role_arn.rpartition("/")[2] for copy in aws.option_group_copies] == [role]
