"""A backup of a TDE-encrypted database restored end to end: moto, the sandbox SQL Server, the real engine. With the
three --tde-* flags rds_restore_tde_certificate runs once (even across a crash) before rds_restore_database, in an
option group carrying TDE; without them SQL Server's message 33111 fails the task. The .pvk's encrypted password
(x-amz-meta-rds-tde-pwd) never reaches the job store, the audit trail or the logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from aws.clients import AwsClients
from aws.iam import POLICY_NAME
from aws.native_restore.client import SqlNativeRestore
from aws.option_groups import BACKUP_RESTORE, TDE, current_options
from aws.sandbox.moto_seed import (
    DEMO_TDE_BACKUP_KEY,
    DEMO_TDE_CERTIFICATE_KEY,
    DEMO_TDE_PRIVATE_KEY_KEY,
    seed_sandbox,
)
from bot.bootstrap import Rdsbot, build
from bot.domain import JobStatus, StageName
from bot.logs import TextFormatter
from bot.parser import parse_restore_command
from bot.tde import PASSWORD_METADATA
from config.policy_model import load_policy
from config.settings import Settings


class SimulatedCrash(BaseException):
    """The process dies between two statements."""


@pytest.fixture
def seeded(aws: AwsClients, tmp_path: Path) -> tuple[Settings, str]:
    key_arn = seed_sandbox(load_policy(None)).tde_password_key_arn
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'jobs.db'}",
        sqlserver_driver="sandbox",
        sandbox_restore_seconds=0.3,
        sandbox_state_path=tmp_path / "sandbox.json",
        poll_seconds=0.05,
    )
    return settings, key_arn


def command(key_arn: str, extra: str = "") -> str:
    return (
        f"{DEMO_TDE_BACKUP_KEY} db.m5.large --tde-certificate {DEMO_TDE_CERTIFICATE_KEY} "
        f"--tde-private-key {DEMO_TDE_PRIVATE_KEY_KEY} --tde-password-key {key_arn} {extra}"
    )


def restore(app: Rdsbot, text: str) -> str:
    job = app.service.submit(parse_restore_command(text), "U0ALICE", approved=True).job
    app.engine.run_until_idle(timeout_seconds=60)
    return job.id


def sql_calls(app: Rdsbot) -> list[str]:
    assert app.sandbox_sql is not None
    return [c.procedure for c in app.sandbox_sql.calls]


def test_a_tde_backup_restores_with_its_certificate_in_a_tde_option_group(seeded, aws, caplog):
    settings, key_arn = seeded
    caplog.set_level(logging.DEBUG)
    app = build(settings)
    try:
        job_id = restore(app, command(key_arn))
        done = app.store.jobs.get_job(job_id)
        assert done is not None and done.status == JobStatus.SUCCEEDED, done.error if done else None
        calls = sql_calls(app)
        assert calls.count("msdb.dbo.rds_restore_tde_certificate") == 1
        assert calls.index("msdb.dbo.rds_restore_tde_certificate") < calls.index("msdb.dbo.rds_restore_database")

        group = str(done.outputs.option_group)
        assert group.endswith("-tde")
        listed = aws.rds.describe_option_groups(OptionGroupName=group)["OptionGroupsList"][0]
        assert {BACKUP_RESTORE, TDE} <= set(current_options(listed))

        role = str(done.outputs.role_arn).rsplit("/", 1)[1]
        document = aws.iam.get_role_policy(RoleName=role, PolicyName=POLICY_NAME)["PolicyDocument"]
        granted = {(a, r) for s in document["Statement"] for a in s["Action"] for r in _list(s["Resource"])}
        assert ("kms:Decrypt", key_arn) in granted  # RDS decrypts the .pvk's password as this role
        assert ("s3:ListAllMyBuckets", "*") in granted  # AWS guide "TDE.BackupRestoreRDS", prerequisites

        # The encrypted password is a secret: nowhere rdsbot writes.
        password = aws.s3.head_object(Bucket="rdsbot-backups", Key=DEMO_TDE_PRIVATE_KEY_KEY)["Metadata"][
            PASSWORD_METADATA
        ]
        events = json.dumps([e.model_dump(mode="json") for e in app.store.audit.audit_events()])
        assert password not in events and password not in done.model_dump_json()
        # At DEBUG botocore logs response headers, x-amz-meta-rds-tde-pwd among them: rdsbot's formatters mask it.
        assert password in caplog.text
        assert password not in "\n".join(TextFormatter().format(record) for record in caplog.records)
        assert done.plan.tde is not None and done.plan.tde.certificate_name in events
    finally:
        app.close()


def test_without_the_flags_sql_server_refuses_the_backup_naming_the_flags(seeded):
    settings, _ = seeded
    app = build(settings)
    try:
        done = app.store.jobs.get_job(restore(app, f"{DEMO_TDE_BACKUP_KEY} db.m5.large"))
        assert done is not None and done.status == JobStatus.FAILED
        assert "SQL Server message 33111" in str(done.error) and "--tde-certificate" in str(done.error)
        assert "msdb.dbo.rds_restore_tde_certificate" not in sql_calls(app)
    finally:
        app.close()


def test_a_bot_that_died_after_importing_the_certificate_does_not_import_it_again(seeded, monkeypatch):
    settings, key_arn = seeded
    original = SqlNativeRestore.start_restore

    def die(*args: object, **kwargs: object) -> int:
        raise SimulatedCrash("after rds_restore_tde_certificate")

    monkeypatch.setattr(SqlNativeRestore, "start_restore", die)
    first = build(settings)
    job = first.service.submit(parse_restore_command(command(key_arn)), "U0ALICE", approved=True).job
    with pytest.raises(SimulatedCrash):
        first.engine.run_until_idle(timeout_seconds=60)
    first.close()

    monkeypatch.setattr(SqlNativeRestore, "start_restore", original)
    second = build(settings)
    try:
        second.engine.run_until_idle(timeout_seconds=60)
        done = second.store.jobs.get_job(job.id)
        assert done is not None and done.status == JobStatus.SUCCEEDED, done.error if done else None
        calls = sql_calls(second)
        assert calls.count("msdb.dbo.rds_restore_tde_certificate") == 1
        assert calls.count("rds_fn_list_user_tde_certificates") == 2
        assert "found, not restored again" in done.stage(StageName.RESTORE_START).detail
    finally:
        second.close()


def _list(resource: str | list[str]) -> list[str]:
    return [resource] if isinstance(resource, str) else resource


def test_a_second_tde_restore_into_the_same_instance_reuses_the_certificate_by_thumbprint(seeded, aws):
    settings, key_arn = seeded
    app = build(settings)
    try:
        first = app.store.jobs.get_job(restore(app, command(key_arn)))
        assert first is not None and first.status == JobStatus.SUCCEEDED, first.error if first else None
        # The --into check reads the engine version the first restore's instance runs: its option group's major.
        created = aws.rds.describe_db_instances(DBInstanceIdentifier=first.plan.target_instance_id)["DBInstances"]
        assert created[0]["EngineVersion"].startswith("15.00")
        into = command(key_arn).replace("db.m5.large", f"--into {first.plan.target_instance_id} --db sales_again")
        second = app.store.jobs.get_job(restore(app, into))
        assert second is not None and second.status == JobStatus.SUCCEEDED, second.error if second else None
        # SQL Server would refuse the same certificate twice (message 15232): the second job finds it instead.
        assert sql_calls(app).count("msdb.dbo.rds_restore_tde_certificate") == 1
        held = f"already held as {first.plan.tde.certificate_name if first.plan.tde else ''}"
        assert held in second.stage(StageName.RESTORE_START).detail
    finally:
        app.close()
