"""--into onto an instance rdsbot did not make, whose option group lacks SQLSERVER_BACKUP_RESTORE, with
targets.allow_option_group_change: true, on a moto server and the sandbox SQL Server. And the AWS rules this relies
on that plain moto leaves out (aws/sandbox/moto_rules.py, the sandbox's option check)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from aws.clients import AwsClients
from aws.network import Network
from aws.option_groups import BACKUP_RESTORE, OptionGroups, current_options
from aws.sandbox.moto_seed import seed_sandbox
from bot import render
from bot.domain import JobStatus
from bot.errors import RdsbotError
from bot.parser import parse_restore_command
from bot.ports import NetworkSpec, OptionGroupCopySpec
from config.policy_model import EXAMPLE_POLICY, Policy, load_policy
from config.settings import Settings
from tests.integration.test_restore_end_to_end import sql, started
from tests.support.aws_calls import CallRecorder

INSTANCE = "rdsbot-staging-1"
TEAM_GROUP = "team-sqlserver-se-15"  # the team's own group: TDE, no SQLSERVER_BACKUP_RESTORE
NEW_GROUP = "rdsbot-into-rdsbot-staging-1-15-00"
ROLE = "arn:aws:iam::123456789012:role/rdsbot/rdsbot-native-restore"


def write_policy(tmp_path: Path, allow: bool) -> Path:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE_POLICY.read_text())
    data["targets"] = {"existing_instances": ["rdsbot-staging-*"], "allow_option_group_change": allow}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def team_instance(aws: AwsClients, policy: Policy, engine_version: str = "15.00.4415.2.v1") -> None:
    """An instance its team made, reachable by the bot on 1433, on the team's option group."""
    placement = Network(aws.ec2, aws.rds).ensure_placement(NetworkSpec(bot_sources=policy.network.bot_sources))
    aws.rds.create_option_group(
        OptionGroupName=TEAM_GROUP, EngineName="sqlserver-se", MajorEngineVersion="15.00", OptionGroupDescription="t"
    )
    aws.rds.modify_option_group(OptionGroupName=TEAM_GROUP, OptionsToInclude=[{"OptionName": "TDE"}])
    aws.rds.create_db_instance(
        DBInstanceIdentifier=INSTANCE,
        DBInstanceClass="db.m5.large",
        Engine="sqlserver-se",
        EngineVersion=engine_version,
        LicenseModel="license-included",
        MasterUsername="admin",
        ManageMasterUserPassword=True,
        AllocatedStorage=100,
        DBSubnetGroupName=placement.subnet_group_name,
        VpcSecurityGroupIds=[placement.security_group_id],
        OptionGroupName=TEAM_GROUP,
    )


def team_world(aws: AwsClients, database_url: str, tmp_path: Path) -> Settings:
    """The sandbox seeded, the team's instance made, and settings whose policy allows the option group change."""
    path = write_policy(tmp_path, allow=True)
    policy = load_policy(path)
    seed_sandbox(policy)
    team_instance(aws, policy)
    return Settings(
        config=path,
        database_url=database_url,
        sqlserver_driver="sandbox",
        sandbox_restore_seconds=0.3,
        sandbox_state_path=tmp_path / "sandbox.json",
        poll_seconds=0.05,
    )


@pytest.fixture
def into_settings(aws: AwsClients, database_url: str, tmp_path: Path) -> Settings:
    return team_world(aws, database_url, tmp_path)


def group_of(aws: AwsClients, instance_id: str = INSTANCE) -> str:
    found = aws.rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]
    return str(found["OptionGroupMemberships"][0]["OptionGroupName"])


def test_the_team_instance_gets_a_copy_with_backup_restore_and_the_restore_runs(aws, into_settings):
    app, calls = started(into_settings)
    try:
        job = app.service.submit(parse_restore_command(f"prod-backup.bak --into {INSTANCE}"), "U0ALICE").job
        assert calls.mutating == []  # a request changes nothing: the card says what approval will change
        app.store.jobs.transition(job.id, JobStatus.AWAITING_APPROVAL, JobStatus.QUEUED, [])
        app.engine.run_until_idle(timeout_seconds=60)
        done = app.store.jobs.get_job(job.id)
        assert done is not None and done.status == JobStatus.SUCCEEDED, done.error if done else None
        assert group_of(aws) == NEW_GROUP
        options = current_options(aws.rds.describe_option_groups(OptionGroupName=NEW_GROUP)["OptionGroupsList"][0])
        assert set(options) == {"TDE", BACKUP_RESTORE} and options[BACKUP_RESTORE]["IAM_ROLE_ARN"].endswith(
            "/rdsbot-native-restore"
        )
        team = current_options(aws.rds.describe_option_groups(OptionGroupName=TEAM_GROUP)["OptionGroupsList"][0])
        assert set(team) == {"TDE"}  # the instance's own group is only read
        tagged = aws.rds.list_tags_for_resource(
            ResourceName=aws.rds.describe_option_groups(OptionGroupName=NEW_GROUP)["OptionGroupsList"][0][
                "OptionGroupArn"
            ]
        )["TagList"]
        assert {"Key": "managed-by", "Value": "rdsbot"} in tagged
        assert calls.count("ModifyDBInstance") == 1 and calls.count("CreateDBInstance") == 0
        assert done.outputs.previous_option_group == TEAM_GROUP and done.created_resources == {}
        restores = [c for c in sql(app).calls if c.procedure == "msdb.dbo.rds_restore_database"]
        assert len(restores) == 1 and restores[0].params["restore_db_name"] == "prod_backup"
        message = render.completion(done).plain()
        assert f"rdsbot applied {NEW_GROUP} to {INSTANCE} (was {TEAM_GROUP})" in message
        # Not rdsbot's instance: no server audit is created there, and the message says so.
        assert done.outputs.server_audit_skipped and not any(c.procedure.startswith("audit:") for c in sql(app).calls)
    finally:
        app.close()


def test_without_the_key_the_request_is_refused_and_nothing_changes(aws, into_settings, tmp_path):
    settings = into_settings.model_copy(update={"config": write_policy(tmp_path, allow=False)})
    app, calls = started(settings)
    try:
        with pytest.raises(RdsbotError) as caught:
            app.service.submit(parse_restore_command(f"prod-backup.bak --into {INSTANCE}"), "U0ALICE")
        assert "targets.allow_option_group_change" in str(caught.value) + str(getattr(caught.value, "hint", ""))
        assert calls.mutating == [] and group_of(aws) == TEAM_GROUP
    finally:
        app.close()


def test_the_sandbox_refuses_a_restore_where_the_option_is_missing(aws, into_settings):
    # AWS guide "SQLServer.Procedural.Importing.Native.Enabling": the procedures need SQLSERVER_BACKUP_RESTORE.
    app, _ = started(into_settings)
    try:
        gateways = app.gateways_for("us-east-1")
        state = gateways.instances.find(INSTANCE)
        assert state is not None
        with pytest.raises(RdsbotError, match="SQLSERVER_BACKUP_RESTORE option is not in-sync"):
            gateways.native_restore.start_restore(state, "sales", "arn:aws:s3:::rdsbot-backups/prod-backup.bak")
    finally:
        app.close()


def test_a_copy_already_in_line_is_left_as_it_is(aws, into_settings):
    groups = OptionGroups(aws.rds)
    spec = OptionGroupCopySpec(
        name=NEW_GROUP, source=TEAM_GROUP, engine="sqlserver-se", major_version="15.00", role_arn=ROLE
    )
    assert groups.ensure_copy(spec).created is True
    calls = CallRecorder(aws)
    assert groups.ensure_copy(spec).created is False
    assert calls.mutating == []


def test_aws_refuses_an_option_group_of_another_major_version_or_none_at_all(aws, into_settings):
    # AWS guide 'USER_WorkingWithOptionGroups': an option group serves one engine and major version; API reference
    # 'API_ModifyDBInstance': OptionGroupNotFoundFault. Plain moto gives the instance any name it is sent.
    aws.rds.create_option_group(
        OptionGroupName="team-sqlserver-se-14",
        EngineName="sqlserver-se",
        MajorEngineVersion="14.00",
        OptionGroupDescription="2017",
    )
    for name, code in (
        ("team-sqlserver-se-14", "InvalidParameterCombination"),
        ("nowhere", "OptionGroupNotFoundFault"),
    ):
        with pytest.raises(ClientError) as refused:
            aws.rds.modify_db_instance(DBInstanceIdentifier=INSTANCE, OptionGroupName=name, ApplyImmediately=True)
        assert refused.value.response["Error"]["Code"] == code
    assert group_of(aws) == TEAM_GROUP
    aws.rds.modify_db_instance(DBInstanceIdentifier=INSTANCE, OptionGroupName="default:sqlserver-se-15-00")
    assert group_of(aws) == "default:sqlserver-se-15-00"  # RDS's own default group for the version is fine


def test_a_tde_restore_onto_a_group_running_rdsbots_plain_role_gets_a_copy_naming_its_tde_role(aws, into_settings):
    """After a plain --into, the instance's group (a copy of the team's, TDE included) runs SQLSERVER_BACKUP_RESTORE
    as rdsbot's plain restore role, which may not import a TDE certificate (no s3:GetBucketAcl, no
    s3:ListAllMyBuckets: AWS guide "TDE.BackupRestoreRDS", prerequisites). The TDE request plans a copy naming the
    -tde role on its card and succeeds; it used to pass every check and fail at rds_restore_tde_certificate."""
    app, _ = started(into_settings)
    try:
        plain = app.service.submit(parse_restore_command(f"prod-backup.bak --into {INSTANCE}"), "U0ALICE").job
        app.store.jobs.transition(plain.id, JobStatus.AWAITING_APPROVAL, JobStatus.QUEUED, [])
        app.engine.run_until_idle(timeout_seconds=60)
        assert group_of(aws) == NEW_GROUP
        key = aws.kms.describe_key(KeyId="alias/rdsbot-sandbox-tde-password")["KeyMetadata"]["Arn"]
        text = (
            f"tde/sales-tde.bak --into {INSTANCE} --db sales_tde --tde-certificate tde/sales-tde.cer "
            f"--tde-private-key tde/sales-tde.pvk --tde-password-key {key}"
        )
        job = app.service.submit(parse_restore_command(text), "U0ALICE").job
        into = job.plan.into
        assert into is not None and into.new_option_group is not None
        assert into.new_option_group.startswith(f"{NEW_GROUP}-k") and into.new_option_group.endswith("-tde")
        assert into.replaced_role_arn == ROLE and "s3:GetBucketAcl" in " ".join(into.replaced_role_lacks)
        app.store.jobs.transition(job.id, JobStatus.AWAITING_APPROVAL, JobStatus.QUEUED, [])
        app.engine.run_until_idle(timeout_seconds=60)
        done = app.store.jobs.get_job(job.id)
        assert done is not None and done.status == JobStatus.SUCCEEDED, done.error if done else None
        assert group_of(aws) == into.new_option_group and done.outputs.previous_option_group == NEW_GROUP
        group = aws.rds.describe_option_groups(OptionGroupName=into.new_option_group)["OptionGroupsList"][0]
        options = current_options(group)
        assert set(options) == {"TDE", BACKUP_RESTORE} and options[BACKUP_RESTORE]["IAM_ROLE_ARN"].endswith("-tde")
        assert any(c.procedure == "msdb.dbo.rds_restore_tde_certificate" for c in sql(app).calls)
    finally:
        app.close()
