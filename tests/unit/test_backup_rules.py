"""/rds-backup: what is refused before any card (and changes nothing), what the card says, and what the stages do:
one rds_backup_database per job, even across a crash right after it was sent (AWS guide
"SQLServer.Procedural.Importing.Native.Using", backing up a database)."""

from __future__ import annotations

import pytest

from bot.backup_request import parse_backup_command
from bot.backup_target import BackupType
from bot.card_facts import PLAIN, card_lines
from bot.domain import BACKUP_STAGE_ORDER, JobStatus, StageName, TaskLifecycle, TaskStatus
from bot.errors import RequestError
from bot.progress_message import progress_text
from bot.service import RestoreService
from bot.workflow import Engine
from config.policy_model import parse_policy
from tests.support.factories import BOT_NETWORK
from tests.unit.fakes import FakeAws, FakeClock, RecordingNotifier
from tests.unit.memory_store import MemoryStore
from tests.unit.test_into_rules import existing

POLICY = parse_policy(
    {
        "backups": {"default_bucket": "rdsbot-backups", "allowed_destinations": ["s3://rdsbot-backups/copies/*"]},
        "network": BOT_NETWORK,
        "targets": {"existing_instances": ["team-*"]},
    }
)
GROUP = "rdsbot-sqlserver-se-15-00"
ROLE = "arn:aws:iam::123456789012:role/rdsbot/rdsbot-native-restore"
TEAM_ROLE = "arn:aws:iam::123456789012:role/team-backups"
COPY = "s3://rdsbot-backups/copies/prod-copy.bak"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def world(policy=POLICY):
    aws, store, clock = FakeAws(), MemoryStore(), FakeClock()
    aws.option_groups[GROUP] = {"SQLSERVER_BACKUP_RESTORE", "SQLSERVER_AUDIT"}
    aws.backup_roles[GROUP] = ROLE
    source(aws)
    return aws, store, clock, RestoreService(store.jobs, store.audit, aws.gateways, policy, clock)


def source(aws, instance_id="rdsbot-first", *, tags=None, group=GROUP, engine="sqlserver-se", databases=("Prod",)):
    """An instance that exists: rdsbot's own unless `tags` says otherwise (the --into tests' helper)."""
    managed = {"managed-by": "rdsbot", "rdsbot-job": "j1"}
    existing(aws, instance_id, tags=managed if tags is None else tags, engine=engine, group=group, databases=databases)


def submit(service, text):
    return service.submit_backup(parse_backup_command(text), "U1", text=text)


def refused(service, store, aws, text):
    before, jobs = list(aws.calls), len(store.jobs.list_jobs())
    with pytest.raises(RequestError) as caught:
        submit(service, text)
    assert len(store.jobs.list_jobs()) == jobs  # nothing recorded as a job
    writes = {"rds_backup_database", "grant_backup_writes", "rds_restore_database", "create_instance"}
    assert not writes & set(aws.calls[len(before) :])  # no AWS write
    assert store.audit.audit_events(None)[-1].action == "request.refused"
    return caught.value


def run(aws, store, clock):
    Engine(store.jobs, aws.gateways, POLICY, RecordingNotifier(), clock, poll_seconds=5).run_until_idle(600)


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("rdsbot-first", "database", "is missing"),
        ("rdsbot-first Prod --files 11", "files", "1 to 10"),
        ("rdsbot-first Prod --files 0", "files", "1 to 10"),
        ("rdsbot-first Prod --type log", "type", "full or differential"),
        ("rdsbot-first Prod ftp://x/y.bak", "destination", "not an s3:// URL"),
        ("rdsbot-first Prod --kms-key x", "command", "unknown flag --kms-key"),
    ],
)
def test_the_parser_names_the_bad_field(text, field, words):
    with pytest.raises(RequestError) as caught:
        parse_backup_command(text)
    assert caught.value.field == field and words in str(caught.value)


def test_the_parser_reads_every_flag_the_issue_names():
    request = parse_backup_command(
        f"rdsbot-first Prod s3://rdsbot-backups/copies/p-*.bak --files 3 --type differential --backup-kms-key {KEY} "
        "--overwrite"
    )
    assert (request.files, request.backup_type, request.kms_key_arn, request.overwrite) == (
        3,
        BackupType.DIFFERENTIAL,
        KEY,
        True,
    )


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("rdsbot-first Prod s3://rdsbot-backups/elsewhere/p.bak", "destination", "backups.allowed_destinations"),
        ("rdsbot-first Prod s3://other-bucket/copies/p.bak", "destination", "backups.allowed_destinations"),
        ("rdsbot-first Prod s3://rdsbot-backups/copies/p.bak --files 2", "destination", "exactly one * in the file"),
        ("rdsbot-first Prod s3://rdsbot-backups/copies/*/p.bak --files 2", "destination", "exactly one * in the file"),
        ("rdsbot-first Prod s3://rdsbot-backups/copies/p*.bak", "destination", "only a multi-file backup"),
        ("rdsbot-first Prod s3://rdsbot-backups/copies/p.txt", "destination", "not a .bak"),
        ("rdsbot-first master", "database", "system database"),
        ("rdsbot-first Prod --region eu-west-1", "region", "not allowed by policy"),
        (f"rdsbot-first Prod --backup-kms-key {KEY.replace('us-east-1', 'eu-west-1')}", "backup_kms_key_arn", "in eu"),
        (
            "rdsbot-first Prod --backup-kms-key arn:aws:kms:us-east-1:123456789012:alias/x",
            "backup_kms_key_arn",
            "alias",
        ),
    ],
)
def test_request_rules_refuse_before_any_aws_call(text, field, words):
    aws, store, _, service = world()
    error = refused(service, store, aws, text)
    assert error.field == field and words in str(error)


def test_aws_rules_refuse_before_any_card_and_change_nothing():
    aws, store, _, service = world()
    source(aws, "someone-elses", tags={})  # not rdsbot's, and no pattern allows it
    assert "targets.existing_instances" in str(refused(service, store, aws, "someone-elses Prod"))
    assert "no RDS instance" in str(refused(service, store, aws, "rdsbot-missing Prod"))
    source(aws, "team-mysql", tags={}, engine="mysql")
    assert "not SQL Server" in str(refused(service, store, aws, "team-mysql Prod"))
    source(aws, "team-bare", tags={}, group="bare")
    aws.option_groups["bare"] = {"SQLSERVER_AUDIT"}
    assert "lacks SQLSERVER_BACKUP_RESTORE" in str(refused(service, store, aws, "team-bare Prod"))
    assert "no database Other" in str(refused(service, store, aws, "rdsbot-first Other"))
    aws.database_states["Prod"] = "RESTORING"
    assert "is RESTORING, not ONLINE" in str(refused(service, store, aws, "rdsbot-first Prod"))


def test_a_bucket_in_another_region_is_refused():
    aws, store, _, service = world()
    aws.bucket_regions["rdsbot-backups"] = "eu-west-1"
    error = refused(service, store, aws, f"rdsbot-first Prod {COPY}")
    assert error.field == "destination" and "in eu-west-1 but rdsbot-first is in us-east-1" in str(error)


def test_an_existing_object_is_refused_without_overwrite_and_named_on_the_card_with_it():
    aws, store, _, service = world()
    aws.objects["rdsbot-backups/copies/prod-copy.bak"] = 10
    error = refused(service, store, aws, f"rdsbot-first Prod {COPY}")
    assert error.field == "overwrite" and f"{COPY} already exists; add --overwrite" in str(error)
    job = submit(service, f"rdsbot-first Prod {COPY} --overwrite")
    assert card_lines(job, PLAIN)[0] == f"OVERWRITES {COPY} (--overwrite)"


def test_a_differential_needs_a_full_backup_since_the_last_restore():
    aws, store, _, service = world()
    aws.tasks[1] = TaskStatus(
        task_id=1, database_name="Prod", lifecycle=TaskLifecycle.SUCCESS, percent_complete=100, task_type="RESTORE_DB"
    )
    error = refused(service, store, aws, f"rdsbot-first Prod {COPY} --type differential")
    assert error.field == "type" and "error 3035" in str(error)
    aws.tasks[2] = TaskStatus(
        task_id=2, database_name="Prod", lifecycle=TaskLifecycle.SUCCESS, percent_complete=100, task_type="BACKUP_DB"
    )
    assert submit(service, f"rdsbot-first Prod {COPY} --type differential").plan.backup is not None
    aws.tasks[3] = TaskStatus(
        task_id=3, database_name="Prod", lifecycle=TaskLifecycle.SUCCESS, percent_complete=100, task_type="RESTORE_DB"
    )
    assert refused(service, store, aws, f"rdsbot-first Prod {COPY} --type differential").field == "type"


def test_a_role_rdsbot_does_not_manage_is_checked_and_what_it_lacks_is_named():
    aws, store, _, service = world()
    aws.backup_roles[GROUP] = TEAM_ROLE
    aws.role_decisions = {"s3:PutObject on arn:aws:s3:::rdsbot-backups/copies/*": "explicitDeny"}
    error = refused(service, store, aws, f"rdsbot-first Prod {COPY}")
    assert f"{TEAM_ROLE} (the option group's role, not rdsbot's) lacks s3:PutObject on" in str(error)
    aws.role_decisions = {}
    job = submit(service, f"rdsbot-first Prod {COPY}")
    store.jobs.transition(job.id, JobStatus.AWAITING_APPROVAL, JobStatus.QUEUED, [])
    run(aws, store, FakeClock())
    assert aws.grants == []  # never changed
    assert store.jobs.get_job(job.id).status == JobStatus.SUCCEEDED


def test_the_default_destination_is_under_the_first_allowed_pattern_named_by_the_job():
    _aws, _, _, service = world()
    job = submit(service, "rdsbot-first Prod")
    assert job.plan.backup.url == f"s3://rdsbot-backups/copies/rdsbot-first/Prod-{job.id}.bak"
    striped = submit(service, "rdsbot-first Prod --files 3")
    assert striped.plan.backup.object_keys()[2] == f"copies/rdsbot-first/Prod-{striped.id}-3-of-3.bak"


def test_the_card_names_the_source_destination_type_and_key():
    _aws, _, _, service = world()
    job = submit(service, f"rdsbot-first Prod s3://rdsbot-backups/copies/p-*.bak --files 4 --backup-kms-key {KEY}")
    lines = card_lines(job, PLAIN)
    assert "Source: database Prod on rdsbot-first (tag managed-by=rdsbot)" in lines
    assert (
        "Destination: s3://rdsbot-backups/copies/p-*.bak (4 files named 1-of-4 ... 4-of-4; allowed by "
        "s3://rdsbot-backups/copies/*)" in lines
    )
    assert f"KMS: Backup key (@kms_master_key_arn) {KEY}" in lines
    assert "Plan: validate → backup_start → backup_wait → finalize" in lines


def test_an_approved_backup_runs_its_own_stages_grants_the_managed_role_and_reports_the_objects():
    aws, store, clock, service = world()
    job = submit(service, "rdsbot-first Prod s3://rdsbot-backups/copies/p-*.bak --files 2")
    store.jobs.transition(job.id, JobStatus.AWAITING_APPROVAL, JobStatus.QUEUED, [])
    run(aws, store, clock)
    done = store.jobs.get_job(job.id)
    assert [s.name for s in done.stages] == list(BACKUP_STAGE_ORDER)
    assert done.status == JobStatus.SUCCEEDED
    assert done.outputs.backup_objects == (
        "s3://rdsbot-backups/copies/p-1-of-2.bak",
        "s3://rdsbot-backups/copies/p-2-of-2.bak",
    )
    assert done.outputs.backup_bytes == 2000
    assert [(role, g.object_pattern) for role, g in aws.grants] == [(ROLE, "copies/*")]
    assert "create_instance" not in aws.calls and aws.calls.count("rds_backup_database") == 1
    actions = [e.action for e in store.audit.audit_events(job.id)]
    assert actions[0] == "backup.requested" and "backup.started" in actions and actions[-1] == "backup.completed"
    completed = store.audit.audit_events(job.id)[-1].detail["outputs"]
    assert completed["backup_objects"] == list(done.outputs.backup_objects) and completed["backup_bytes"] == 2000


class Crash(Exception):
    pass


def test_a_crash_after_the_task_was_sent_finds_it_in_rds_task_status_instead_of_sending_it_again():
    aws, store, clock, service = world()
    job = submit(service, f"rdsbot-first Prod {COPY}")
    store.jobs.transition(job.id, JobStatus.AWAITING_APPROVAL, JobStatus.QUEUED, [])
    real_save = store.jobs.save_job

    def crash_before_saving_backup_start(saved, events=()):
        if any(e.detail.get("stage") == StageName.BACKUP_START and e.action == "stage.succeeded" for e in events):
            raise Crash("the process died after rds_backup_database, before the stage was saved")
        real_save(saved, events)

    store.jobs.save_job = crash_before_saving_backup_start
    with pytest.raises(Crash):
        Engine(store.jobs, aws.gateways, POLICY, RecordingNotifier(), clock, poll_seconds=5).tick()
    assert aws.calls.count("rds_backup_database") == 1
    store.jobs.save_job = real_save
    run(aws, store, clock)  # a new engine on the same store
    done = store.jobs.get_job(job.id)
    assert done.status == JobStatus.SUCCEEDED
    assert aws.calls.count("rds_backup_database") == 1
    assert "already sent" in done.stage(StageName.BACKUP_START).detail


def test_an_earlier_backup_to_the_same_object_is_not_taken_for_this_jobs_task():
    aws, store, clock, service = world()
    aws.objects["rdsbot-backups/copies/prod-copy.bak"] = 10
    aws.tasks[1] = TaskStatus(
        task_id=1,
        database_name="Prod",
        lifecycle=TaskLifecycle.SUCCESS,
        percent_complete=100,
        task_type="BACKUP_DB",
        s3_object_arn="arn:aws:s3:::rdsbot-backups/copies/prod-copy.bak",
    )
    job = submit(service, f"rdsbot-first Prod {COPY} --overwrite")
    store.jobs.transition(job.id, JobStatus.AWAITING_APPROVAL, JobStatus.QUEUED, [])
    run(aws, store, clock)
    assert aws.calls.count("rds_backup_database") == 1
    assert store.jobs.get_job(job.id).outputs.task_id == 2


def test_an_object_that_appears_after_approval_fails_the_job_before_anything_is_sent():
    aws, store, clock, service = world()
    job = submit(service, f"rdsbot-first Prod {COPY}")
    store.jobs.transition(job.id, JobStatus.AWAITING_APPROVAL, JobStatus.QUEUED, [])
    aws.objects["rdsbot-backups/copies/prod-copy.bak"] = 10
    run(aws, store, clock)
    failed = store.jobs.get_job(job.id)
    assert failed.status == JobStatus.FAILED and "already exists" in (failed.error or "")
    assert "rds_backup_database" not in aws.calls
    assert store.audit.audit_events(job.id)[-1].action == "backup.failed"


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("rdsbot-backups/copies/*", "is not s3://bucket/prefix*"),
        ("s3://rdsbot-backups/*/copies", "is not s3://bucket/prefix*"),
        ("s3://elsewhere/copies/*", "is not in a backup bucket (rdsbot-backups)"),
    ],
)
def test_the_policy_refuses_a_destination_pattern_rdsbot_could_not_read_back(pattern, words):
    with pytest.raises(Exception, match=words.replace("*", r"\*").replace("(", r"\(").replace(")", r"\)")):
        parse_policy(
            {
                "backups": {"default_bucket": "rdsbot-backups", "allowed_destinations": [pattern]},
                "network": BOT_NETWORK,
            }
        )


def test_without_allowed_destinations_backups_go_under_the_default_buckets_rdsbot_copies():
    policy = parse_policy({"backups": {"default_bucket": "rdsbot-backups"}, "network": BOT_NETWORK})
    assert policy.backups.destinations == ("s3://rdsbot-backups/rdsbot-copies/*",)
    _, _, _, service = world(policy)
    job = submit(service, "rdsbot-first Prod")
    assert job.plan.backup.url == f"s3://rdsbot-backups/rdsbot-copies/rdsbot-first/Prod-{job.id}.bak"


def test_a_cancel_during_backup_wait_asks_rds_to_cancel_the_task_once():
    aws, store, clock, service = world()
    aws.polls_until_restored = 50
    job = submit(service, f"rdsbot-first Prod {COPY}")
    store.jobs.transition(job.id, JobStatus.AWAITING_APPROVAL, JobStatus.QUEUED, [])
    engine = Engine(store.jobs, aws.gateways, POLICY, RecordingNotifier(), clock, poll_seconds=5)
    engine.tick()
    assert store.jobs.get_job(job.id).current_stage.name == StageName.BACKUP_WAIT
    store.jobs.request_cancel(job.id, "U1")
    engine.run_until_idle(600)
    assert aws.calls.count("rds_cancel_task") == 1
    assert store.jobs.get_job(job.id).status == JobStatus.CANCELLED


def test_the_living_message_says_what_the_backup_does_and_carries_its_bar():
    aws, store, clock, service = world()
    aws.polls_until_restored = 4
    job = submit(service, f"rdsbot-first Prod {COPY}")
    store.jobs.transition(job.id, JobStatus.AWAITING_APPROVAL, JobStatus.QUEUED, [])
    Engine(store.jobs, aws.gateways, POLICY, RecordingNotifier(), clock, poll_seconds=5).tick()
    text = progress_text(store.jobs.get_job(job.id))
    assert text.startswith(f"[{job.id}] backing up Prod on rdsbot-first to {COPY}: running")
    assert "… backup_wait [#####...............] 25%" in text


def test_a_finished_backup_is_counted_as_a_backup_and_kept_out_of_time_to_restore():
    from datetime import timedelta

    from bot.metrics import Metrics

    _, _, clock, service = world()
    job = submit(service, f"rdsbot-first Prod {COPY}")
    job.status, job.started_at, job.finished_at = JobStatus.SUCCEEDED, clock.now(), clock.now() + timedelta(minutes=3)
    metrics = Metrics()
    metrics.job_finished(job)
    text = metrics.exposition().decode()
    assert 'rdsbot_jobs_finished_total{kind="backup",status="succeeded"} 1.0' in text
    assert "rdsbot_time_to_restore_seconds_count{" not in text


def test_an_option_group_without_a_role_is_refused_and_an_unchecked_role_is_a_warning_on_the_card():
    aws, store, _, service = world()
    aws.backup_roles[GROUP] = None
    error = refused(service, store, aws, f"rdsbot-first Prod {COPY}")
    assert error.field == "instance" and "names no IAM_ROLE_ARN" in str(error)
    aws.backup_roles[GROUP] = TEAM_ROLE
    aws.role_decisions = None  # IAM could not be asked (SimulatePrincipalPolicy refused or missing)
    lines = card_lines(submit(service, f"rdsbot-first Prod {COPY}"), PLAIN)
    assert f"⚠ could not check {TEAM_ROLE}; it must allow s3:PutObject, s3:ListMultipartUploadParts, " in "\n".join(
        lines
    )


def test_the_checks_read_the_option_group_once_for_its_options_and_its_role():
    aws, _, _, service = world()
    aws.backup_roles[GROUP] = TEAM_ROLE  # not rdsbot's: the role is read and checked, from the same look-up
    job = submit(service, f"rdsbot-first Prod {COPY}")
    assert job.plan.backup is not None and job.plan.backup.role_arn == TEAM_ROLE
    assert aws.calls.count("describe_option_group") == 1
