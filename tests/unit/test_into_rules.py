"""--into and --replace: which instances may be a target, what is refused before any card, and what the stages do
(and never do) on an instance that existed before the job."""

import pytest

from bot.approvals import Decisions, Outcome
from bot.authz import Authorizer
from bot.domain import InstanceState, JobStatus, TaskLifecycle, TaskStatus
from bot.errors import RequestError
from bot.instance_cleanup import ends
from bot.parser import parse_restore_command
from bot.service import RestoreService
from bot.workflow import Engine
from config.policy_model import parse_policy
from tests.support.factories import BOT_NETWORK
from tests.unit.fakes import FakeAws, FakeClock, RecordingNotifier
from tests.unit.memory_store import MemoryStore
from tests.unit.test_decisions import ADMIN, ADMINS, OTHER_ADMIN, FakeDirectory

POLICY = parse_policy(
    {
        "backups": {"default_bucket": "rdsbot-backups"},
        "network": BOT_NETWORK,
        "targets": {"existing_instances": ["rdsbot-staging-*"]},
    }
)
RESTORE_OPTION_GROUP = "team-sqlserver-se-15"


def world(policy=POLICY):
    aws, store, clock = FakeAws(), MemoryStore(), FakeClock()
    aws.option_groups[RESTORE_OPTION_GROUP] = {"SQLSERVER_BACKUP_RESTORE"}
    return aws, store, clock, RestoreService(store.jobs, store.audit, aws.gateways, policy, clock)


def existing(
    aws, instance_id="rdsbot-staging-1", *, tags=None, engine="sqlserver-se", group=RESTORE_OPTION_GROUP, databases=()
):
    aws.instances[instance_id] = InstanceState(
        instance_id=instance_id,
        status="available",
        instance_class="db.r5.xlarge",
        option_group_name=group,
        option_group_status="in-sync",
        endpoint_address=f"{instance_id}.example",
        endpoint_port=1433,
        engine=engine,
        engine_version="15.00.4415.2.v1",
        tags=tags or {},
    )
    aws.databases[instance_id] = set(databases)


def run(aws, store, clock):
    Engine(store.jobs, aws.gateways, POLICY, RecordingNotifier(), clock, poll_seconds=5).run_until_idle(600)


def refused(service, text):
    with pytest.raises(RequestError) as caught:
        service.submit(parse_restore_command(text), "U1")
    return caught.value


def test_into_takes_no_instance_class():
    with pytest.raises(RequestError) as caught:
        parse_restore_command("prod-backup.bak db.m5.large --into rdsbot-staging-1")
    assert caught.value.field == "instance_class" and "keeps its class" in caught.value.message


def test_replace_without_into_is_refused_naming_into():
    with pytest.raises(RequestError) as caught:
        parse_restore_command("prod-backup.bak db.m5.large --replace")
    assert caught.value.field == "replace" and "--into" in caught.value.message


@pytest.mark.parametrize("flag", ["--storage 200", "--multi-az", "--keep 2h", "--name rdsbot-x", "--edition ee"])
def test_flags_that_shape_a_new_instance_are_refused_with_into(flag):
    aws, store, _, service = world()
    existing(aws)
    error = refused(service, f"prod-backup.bak --into rdsbot-staging-1 {flag}")
    assert flag.split()[0] in error.message and "drop" in (error.hint or "")
    assert store.jobs.by_id == {} and "rds_drop_database" not in aws.calls


def test_an_existing_database_is_refused_before_any_card_naming_replace():
    aws, store, _, service = world()
    existing(aws, databases={"Prod_Backup"})  # names differing only in case are the same database
    error = refused(service, "prod-backup.bak --into rdsbot-staging-1")
    assert error.field == "replace" and "--replace" in (error.hint or "")
    assert store.jobs.by_id == {} and aws.mutating == []


def test_replace_drops_the_database_before_the_restore():
    aws, store, clock, service = world()
    existing(aws, databases={"prod_backup"})
    job = service.submit(
        parse_restore_command("prod-backup.bak --into rdsbot-staging-1 --replace"), "U1", approved=True
    ).job
    run(aws, store, clock)
    done = store.jobs.by_id[job.id]
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert aws.calls.index("rds_drop_database") < aws.calls.index("rds_restore_database")
    assert "create_instance" not in aws.calls and "ensure_option_group" not in aws.calls
    assert done.created_resources == {}
    assert "prod_backup" in aws.databases["rdsbot-staging-1"]


def test_a_database_that_appears_after_the_request_fails_the_job_without_replace():
    aws, store, clock, service = world()
    existing(aws)
    job = service.submit(parse_restore_command("prod-backup.bak --into rdsbot-staging-1"), "U1", approved=True).job
    aws.databases["rdsbot-staging-1"].add("prod_backup")
    run(aws, store, clock)
    done = store.jobs.by_id[job.id]
    assert done.status == JobStatus.FAILED and "--replace" in (done.error or "")
    assert "rds_drop_database" not in aws.calls and "rds_restore_database" not in aws.calls


def test_an_instance_neither_tagged_nor_listed_is_refused_naming_the_policy_key():
    aws, _, _, service = world()
    existing(aws, "rdsbot-prod-1")
    error = refused(service, "prod-backup.bak --into rdsbot-prod-1")
    assert "targets.existing_instances" in error.message + (error.hint or "")


def test_an_instance_rdsbot_made_needs_no_pattern():
    aws, _, _, service = world()
    existing(aws, "rdsbot-prod-1", tags={"managed-by": "rdsbot", "rdsbot-job-id": "jold"})
    job = service.submit(parse_restore_command("prod-backup.bak --into rdsbot-prod-1 --db other"), "U1").job
    assert job.plan.into is not None and job.plan.into.allowed_by == "tag managed-by=rdsbot"
    assert job.plan.instance_class == "db.r5.xlarge" and job.plan.major_version == "15.00"


def test_a_drill_instance_is_never_a_target():
    aws, _, _, service = world()
    existing(aws, "rdsbot-staging-1", tags={"managed-by": "rdsbot", "rdsbot-drill": "true"})
    assert "drill" in refused(service, "prod-backup.bak --into rdsbot-staging-1").message


def test_a_missing_instance_or_another_engine_is_refused():
    aws, _, _, service = world()
    assert "no RDS instance" in refused(service, "prod-backup.bak --into rdsbot-staging-9").message
    existing(aws, engine="postgres")
    assert "not SQL Server" in refused(service, "prod-backup.bak --into rdsbot-staging-1").message


def test_an_option_group_without_backup_restore_is_refused_and_left_alone():
    aws, _, _, service = world()
    aws.option_groups["plain"] = {"SQLSERVER_AUDIT"}
    existing(aws, group="plain")
    error = refused(service, "prod-backup.bak --into rdsbot-staging-1")
    assert "SQLSERVER_BACKUP_RESTORE" in error.message and aws.mutating == []


def test_an_unreachable_instance_is_not_refused_but_said_on_the_card():
    aws, _, _, service = world()
    existing(aws)
    aws.instances["rdsbot-staging-1"] = aws.instances["rdsbot-staging-1"].model_copy(update={"endpoint_address": None})
    job = service.submit(parse_restore_command("prod-backup.bak --into rdsbot-staging-1"), "U1").job
    assert job.plan.into is not None and job.plan.into.database_existed is None
    assert any("checked before the restore" in w for w in job.plan.warnings)


def test_an_into_job_never_ends_by_a_keep_window():
    aws, _, _, service = world()
    existing(aws, tags={"managed-by": "rdsbot", "rdsbot-job-id": "jold"})
    job = service.submit(parse_restore_command("prod-backup.bak --into rdsbot-staging-1"), "U1").job
    assert job.plan.keep_seconds is None and not ends(job)


def test_a_restore_then_another_into_the_first_instance_both_succeed():
    aws, store, clock, service = world()
    first = service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1", approved=True).job
    run(aws, store, clock)
    target = first.plan.target_instance_id
    second = service.submit(
        parse_restore_command(f"prod-backup.bak --into {target} --db other"), "U1", approved=True
    ).job
    run(aws, store, clock)
    assert store.jobs.by_id[first.id].status == store.jobs.by_id[second.id].status == JobStatus.SUCCEEDED
    assert aws.databases[target] == {"prod_backup", "other"} and aws.calls.count("create_instance") == 1


def no_engine() -> None:
    """The engine is not running in these tests; an approval has nothing to wake."""


def decisions_for(policy, store, clock):
    directory = FakeDirectory(ADMINS)
    return Decisions(store.jobs, store.approvals, store.audit, Authorizer(directory, policy), policy, clock, no_engine)


TWO_FOR_REPLACE = {"approvals": {"replace_approvers": 2}}
# The deprecated spelling keeps working: configs written before the issue named approvals.replace_approvers.
TWO_FOR_REPLACE_OLD_KEY = {"targets": {"existing_instances": ["rdsbot-staging-*"], "replace_approvers": 2}}


@pytest.mark.parametrize("keys", [TWO_FOR_REPLACE, TWO_FOR_REPLACE_OLD_KEY], ids=["approvals", "deprecated-targets"])
def test_a_replace_waits_for_a_second_admin_when_the_policy_asks_for_two(keys):
    policy = parse_policy(
        {
            "backups": {"default_bucket": "rdsbot-backups"},
            "network": BOT_NETWORK,
            "targets": {"existing_instances": ["rdsbot-staging-*"]},
            **keys,
        }
    )
    aws, store, clock, service = world(policy)
    existing(aws, databases={"prod_backup"})
    decisions = decisions_for(policy, store, clock)
    job = service.submit(parse_restore_command("prod-backup.bak --into rdsbot-staging-1 --replace"), "U1").job
    first = decisions.decide(job.id, ADMIN, True, lambda: None)
    assert first.outcome == Outcome.FIRST_OF_TWO and "1 of 2" in first.message
    assert store.jobs.by_id[job.id].status == JobStatus.AWAITING_APPROVAL
    again = decisions.decide(job.id, ADMIN, True, lambda: None)  # the same admin twice is still one
    assert again.outcome == Outcome.ALREADY_DECIDED
    assert store.jobs.by_id[job.id].status == JobStatus.AWAITING_APPROVAL
    second = decisions.decide(job.id, OTHER_ADMIN, True, lambda: None)
    assert second.outcome == Outcome.APPROVED and store.jobs.by_id[job.id].status == JobStatus.QUEUED
    actions = [e.action for e in store.audit.audit_events(job.id)]
    assert "approval.first_of_two" in actions and actions[-1] == "job.approved"


def test_one_admin_approves_a_replace_when_the_policy_asks_for_one():
    aws, store, clock, service = world()  # replace_approvers defaults to 1
    existing(aws, databases={"prod_backup"})
    job = service.submit(parse_restore_command("prod-backup.bak --into rdsbot-staging-1 --replace"), "U1").job
    assert decisions_for(POLICY, store, clock).decide(job.id, ADMIN, True, lambda: None).outcome == Outcome.APPROVED


class _Died(BaseException):
    """The process dies: not an Exception, so nothing in the engine may swallow it."""


class DiesAfterSendingTheRestore(FakeAws):
    dies = True

    def start_restore(self, instance, database_name, s3_arn, kms_key_arn=None):
        task_id = super().start_restore(instance, database_name, s3_arn, kms_key_arn)
        if self.dies:
            raise _Died(task_id)
        return task_id


def test_a_replace_whose_task_finished_while_the_bot_was_down_is_not_dropped_and_restored_again():
    """Killed after rds_restore_database was sent, before the task id was saved; the task succeeded meanwhile. The
    restart must find that task (after the floor saved before anything was sent) rather than take it for an earlier
    restore, drop the new database and restore it a second time."""
    aws, store, clock = DiesAfterSendingTheRestore(), MemoryStore(), FakeClock()
    aws.option_groups[RESTORE_OPTION_GROUP] = {"SQLSERVER_BACKUP_RESTORE"}
    existing(aws, databases={"prod_backup"})
    # An earlier restore into the same name, finished long ago: its task stays in rds_task_status for 36 days.
    aws.tasks[1] = TaskStatus(
        task_id=1, database_name="prod_backup", lifecycle=TaskLifecycle.SUCCESS, percent_complete=100
    )
    service = RestoreService(store.jobs, store.audit, aws.gateways, POLICY, clock)
    job = service.submit(
        parse_restore_command("prod-backup.bak --into rdsbot-staging-1 --replace"), "U1", approved=True
    ).job
    with pytest.raises(_Died):
        run(aws, store, clock)
    sent = max(aws.tasks)
    aws.tasks[sent] = aws.tasks[sent].model_copy(update={"lifecycle": "SUCCESS", "percent_complete": 100})
    aws.databases["rdsbot-staging-1"].add("prod_backup")
    aws.dies = False  # the restarted bot talks to the same AWS; this process lives
    run(aws, store, clock)
    done = store.jobs.by_id[job.id]
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert (aws.calls.count("rds_drop_database"), aws.calls.count("rds_restore_database")) == (1, 1)
    assert done.outputs.task_id == sent
