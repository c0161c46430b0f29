"""The whole engine against a moto server over HTTP, with the sandbox SQL Server: the user's story end to end."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from aws.clients import AwsClients
from aws.iam import POLICY_NAME
from aws.sandbox.moto_seed import seed_sandbox
from aws.sandbox.sql_server import SandboxSqlServer
from bot.bootstrap import Rdsbot, build
from bot.domain import STAGE_ORDER, Job, JobStatus, StageName, StageStatus
from bot.errors import RequestError
from bot.parser import parse_restore_command
from config.policy_model import load_policy
from config.settings import Settings
from tests.integration.store_fixtures import postgres_schema
from tests.support.aws_calls import CallRecorder


class SimulatedCrash(BaseException):
    """The process dies between two statements; nothing in the engine may catch it."""


class CrashOn:
    def __init__(self, stage: StageName | None = None, percent: int | None = None) -> None:
        self.stage, self.percent = stage, percent

    def stage_changed(self, job: Job, stage) -> None:
        if stage.name == self.stage and stage.status == StageStatus.SUCCEEDED:
            raise SimulatedCrash(stage.name)

    def progress(self, job: Job, percent: int) -> None:
        if self.percent is not None and percent >= self.percent:
            raise SimulatedCrash("restore_wait")

    def job_finished(self, job: Job) -> None:
        pass

    def request_expired(self, job: Job, deadline: datetime) -> None:
        pass

    def keep_reminder(self, job: Job, lifecycle: object) -> None:
        pass

    def lifecycle_changed(self, job: Job, lifecycle: object, text: str) -> None:
        pass


@pytest.fixture
def settings(aws: AwsClients, database_url: str, tmp_path: Path) -> Settings:
    seed_sandbox(load_policy(None))
    return Settings(
        database_url=database_url,
        sqlserver_driver="sandbox",
        sandbox_restore_seconds=0.6,
        sandbox_state_path=tmp_path / "sandbox.json",
        poll_seconds=0.05,
    )


def sql(app: Rdsbot) -> SandboxSqlServer:
    assert app.sandbox_sql is not None
    return app.sandbox_sql


def started(settings: Settings, **kwargs) -> tuple[Rdsbot, CallRecorder]:
    app = build(settings, **kwargs)
    assert app.sandbox_sql is not None
    return app, CallRecorder(app.clients_for("us-east-1"))


def test_full_restore_builds_a_closed_network_both_options_and_a_tagged_instance(settings: Settings, aws):
    app, calls = started(settings)
    job = app.service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U0ALICE", approved=True).job
    app.engine.run_until_idle(timeout_seconds=60)
    done = app.store.jobs.get_job(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED, done.error if done else None
    assert all(s.status == StageStatus.SUCCEEDED and s.seconds is not None for s in done.stages)

    group = aws.ec2.describe_security_groups(GroupIds=[str(done.outputs.security_group_id)])["SecurityGroups"][0]
    # Exactly the bot's own source (the example policy's network.bot_sources) on 1433: no client, nothing else.
    assert [
        (rule["IpProtocol"], rule["FromPort"], rule["ToPort"], [r["CidrIp"] for r in rule["IpRanges"]])
        for rule in group["IpPermissions"]
    ] == [("tcp", 1433, 1433, ["10.0.0.10/32"])]

    options = aws.rds.describe_option_groups(OptionGroupName=str(done.outputs.option_group))["OptionGroupsList"][0]
    settings_by_option = {
        o["OptionName"]: {s["Name"]: s.get("Value") for s in o.get("OptionSettings", [])} for o in options["Options"]
    }
    role_arn = str(done.outputs.role_arn)
    assert settings_by_option["SQLSERVER_BACKUP_RESTORE"]["IAM_ROLE_ARN"] == role_arn
    # The audit files go to their own role and sub-prefix: the restore role writes nowhere.
    assert settings_by_option["SQLSERVER_AUDIT"]["IAM_ROLE_ARN"] == done.outputs.audit_role_arn != role_arn
    assert settings_by_option["SQLSERVER_AUDIT"]["S3_BUCKET_ARN"] == "arn:aws:s3:::rdsbot-audit/rdsbot-audit/sqlserver"
    restore_policy = aws.iam.get_role_policy(RoleName=role_arn.rsplit("/", 1)[1], PolicyName=POLICY_NAME)
    assert not [a for s in restore_policy["PolicyDocument"]["Statement"] for a in s["Action"] if "Put" in a]

    role = aws.iam.get_role(RoleName=role_arn.rsplit("/", 1)[1])["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    principals = [s["Principal"] for s in trust["Statement"]]
    assert principals == [{"Service": "rds.amazonaws.com"}]

    instance = aws.rds.describe_db_instances(DBInstanceIdentifier=done.plan.target_instance_id)["DBInstances"][0]
    tags = {t["Key"]: t["Value"] for t in instance["TagList"]}
    assert tags["managed-by"] == "rdsbot" and tags["rdsbot-job-id"] == job.id
    assert tags["rdsbot-requester"] == "U0ALICE"
    assert [m["OptionGroupName"] for m in instance["OptionGroupMemberships"]] == [str(done.outputs.option_group)]
    assert instance["PubliclyAccessible"] is False
    assert calls.count("CreateDBInstance") == 1
    assert [c.procedure for c in sql(app).calls].count("msdb.dbo.rds_restore_database") == 1
    assert "prod_backup" in sql(app).databases(str(done.outputs.endpoint).split(":")[0])


def test_a_bot_the_security_group_does_not_admit_fails_the_job_naming_the_group_and_port(settings: Settings, aws):
    # The bot runs from an address the policy does not list: its connections to 1433 are dropped, like RDS's.
    app, calls = started(settings.model_copy(update={"sandbox_bot_source": "192.0.2.7/32"}))
    job = app.service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U0ALICE", approved=True).job

    app.engine.run_until_idle(timeout_seconds=60)

    done = app.store.jobs.get_job(job.id)
    assert done is not None and done.status == JobStatus.FAILED
    group_id = str(done.outputs.security_group_id)
    failed = [s for s in done.stages if s.status == StageStatus.FAILED]
    assert [s.name for s in failed] == [StageName.RESTORE_START]
    assert f"security group {group_id} admits tcp/1433" in str(done.error)
    assert "network.bot_sources" in str(done.error) and "(20 attempts in a row)" in str(done.error)
    assert calls.count("CreateDBInstance") == 1 and sql(app).calls == []


@pytest.mark.parametrize(
    "crash",
    [*[CrashOn(stage=s) for s in list(STAGE_ORDER)[:-1]], CrashOn(percent=30)],
    ids=[*[f"after-{s}" for s in list(STAGE_ORDER)[:-1]], "inside-restore_wait"],
)
def test_a_new_engine_on_the_same_store_finishes_with_one_instance_and_one_restore(settings: Settings, crash):
    first, first_calls = started(settings)
    first.notifier.add(crash)
    job = first.service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U0ALICE", approved=True).job
    with pytest.raises(SimulatedCrash):
        first.engine.run_until_idle(timeout_seconds=60)
    first.close()

    # A new process: a new store connection, new AWS clients, the same SQL Server (its state file).
    second, second_calls = started(settings)
    second.engine.run_until_idle(timeout_seconds=60)
    done = second.store.jobs.get_job(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED, done.error if done else None
    assert first_calls.count("CreateDBInstance") + second_calls.count("CreateDBInstance") == 1
    restores = [c for c in sql(second).calls if c.procedure == "msdb.dbo.rds_restore_database"]
    assert len(restores) == 1


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("prod-backup.bak db.x9.large", "instance_class"),
        ("prod-backup.bak db.m1.small", "instance_class"),
        ("prod-backup.bak db.m5.large --name -bad-", "target_instance_id"),
        ('prod-backup.bak db.m5.large --db "x]; DROP DATABASE master; --"', "database_name"),
        ("missing-backup.bak db.m5.large", "backup"),
        ("s3://someone-elses-bucket/prod.bak db.m5.large", "backup"),
        ("prod-backup.bak db.m5.large --region eu-central-1", "region"),
        ("eleven/part* db.m5.large", "backup"),
    ],
)
def test_bad_requests_get_a_specific_error_and_no_mutating_aws_call(settings: Settings, aws, text, field):
    for part in range(11):
        aws.s3.put_object(Bucket="rdsbot-backups", Key=f"eleven/part{part:02d}.bak", Body=b"TAPE")
    app, calls = started(settings)
    with pytest.raises(RequestError) as caught:
        app.service.submit(parse_restore_command(text), "U0ALICE", approved=True)
    assert caught.value.field == field
    assert calls.mutating == []
    assert app.store.jobs.list_jobs() == []
    refused = app.store.audit.audit_events()[-1]
    assert refused.action == "request.refused" and refused.detail["field"] == field


def test_a_restore_of_a_database_that_already_exists_fails_with_a_readable_reason(settings: Settings):
    app, _ = started(settings)
    command = "prod-backup.bak db.m5.large --name rdsbot-shared-target --db Sales"
    first = app.service.submit(parse_restore_command(command), "U0ALICE", approved=True).job
    app.engine.run_until_idle(timeout_seconds=60)
    instance = app.gateways_for("us-east-1").instances.find("rdsbot-shared-target")
    assert instance is not None
    # A second restore of the same database name onto the same instance, as a human might try by hand.
    task_id = app.gateways_for("us-east-1").native_restore.start_restore(
        instance, "Sales", "arn:aws:s3:::rdsbot-backups/prod-backup.bak"
    )
    app.clock.sleep(1.0)
    status = app.gateways_for("us-east-1").native_restore.task_status(instance, task_id)
    finished = app.store.jobs.get_job(first.id)
    assert finished is not None and finished.status == JobStatus.SUCCEEDED
    assert status.lifecycle == "ERROR" and "already exists" in status.reason


@pytest.mark.postgres
def test_two_replicas_on_one_postgresql_store_drive_each_job_once(aws: AwsClients, tmp_path: Path):
    seed_sandbox(load_policy(None))
    with postgres_schema() as url:
        settings = Settings(
            database_url=url,
            sqlserver_driver="sandbox",
            sandbox_restore_seconds=0.5,
            sandbox_state_path=tmp_path / "sandbox.json",
            poll_seconds=0.05,
        )
        replicas = [started(settings) for _ in range(2)]
        stops = [app.start_background() for app, _ in replicas]
        try:
            first, _ = replicas[0]
            job = first.service.submit(
                parse_restore_command("prod-backup.bak db.m5.large"), "U0ALICE", approved=True
            ).job
            deadline = time.monotonic() + 60
            while (done := first.store.jobs.get_job(job.id)) is not None and not done.status.finished:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert done is not None and done.status == JobStatus.SUCCEEDED
            assert sorted(app.engine.is_leader() for app, _ in replicas) == [False, True]
            assert sum(calls.count("CreateDBInstance") for _, calls in replicas) == 1
            restores = [c for c in sql(first).calls if c.procedure == "msdb.dbo.rds_restore_database"]
            assert len(restores) == 1
        finally:
            for stop in stops:
                stop.set()
            time.sleep(0.3)
            for app, _ in replicas:
                app.close()


def test_cancelling_a_running_restore_cancels_the_sql_server_task(settings: Settings):
    slow = settings.model_copy(update={"sandbox_restore_seconds": 30.0})
    app, _ = started(slow)
    job = app.service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U0ALICE", approved=True).job
    deadline = time.monotonic() + 30
    while (current := app.store.jobs.get_job(job.id)) is not None and current.outputs.task_id is None:
        assert time.monotonic() < deadline
        app.engine.tick()
        time.sleep(0.05)
    assert app.store.jobs.request_cancel(job.id, "U0BOB")
    app.engine.run_until_idle(timeout_seconds=60)
    done = app.store.jobs.get_job(job.id)
    assert done is not None and done.status == JobStatus.CANCELLED, done.error if done else None
    procedures = [c.procedure for c in sql(app).calls]
    assert procedures.count("msdb.dbo.rds_cancel_task") == 1
    endpoint = str(done.outputs.endpoint).split(":")[0]
    assert "prod_backup" not in sql(app).databases(endpoint)
    assert done.created_resources["instance"] == done.plan.target_instance_id  # left behind, and said so
    assert [e.action for e in app.store.audit.audit_events(job.id)][-1] == "job.cancelled"
