"""The option group enabling native restore and audit, against a moto server over HTTP."""

from __future__ import annotations

import re

import pytest

from aws.clients import AwsClients
from aws.option_groups import AUDIT, BACKUP_RESTORE, TDE, OptionGroups, current_options
from bot.errors import StageError
from bot.ports import EnsuredOptionGroup, OptionGroupSpec
from tests.support.aws_calls import CallRecorder

ROLE = "arn:aws:iam::123456789012:role/rdsbot-restore"
AUDIT_ROLE = "arn:aws:iam::123456789012:role/rdsbot/rdsbot-sqlserver-audit"
AUDIT_ARN = "arn:aws:s3:::sql-audit/rdsbot-audit/sqlserver"
SPEC = OptionGroupSpec(
    name="rdsbot-sqlserver-se-15-00",
    engine="sqlserver-se",
    major_version="15.00",
    role_arn=ROLE,
    audit_s3_bucket_arn=AUDIT_ARN,
    audit_role_arn=AUDIT_ROLE,
    audit_retention_hours=24,
)


@pytest.fixture
def groups(aws: AwsClients) -> OptionGroups:
    return OptionGroups(aws.rds)


def options_of(aws: AwsClients, name: str = SPEC.name) -> dict[str, dict[str, str]]:
    return current_options(aws.rds.describe_option_groups(OptionGroupName=name)["OptionGroupsList"][0])


def test_new_group_carries_backup_restore_and_audit_with_their_settings(aws, groups):
    ensured = groups.ensure_option_group(SPEC)

    assert ensured == EnsuredOptionGroup(name=SPEC.name, created=True)
    name = ensured.name
    group = aws.rds.describe_option_groups(OptionGroupName=name)["OptionGroupsList"][0]
    assert (group["EngineName"], group["MajorEngineVersion"]) == ("sqlserver-se", "15.00")
    assert options_of(aws) == {
        BACKUP_RESTORE: {"IAM_ROLE_ARN": ROLE},
        AUDIT: {
            "IAM_ROLE_ARN": AUDIT_ROLE,
            "S3_BUCKET_ARN": AUDIT_ARN,
            "RETENTION_TIME": "24",
            "ENABLE_COMPRESSION": "true",
        },
    }
    tags = aws.rds.list_tags_for_resource(ResourceName=group["OptionGroupArn"])["TagList"]
    assert {"Key": "managed-by", "Value": "rdsbot"} in tags


def test_without_an_audit_bucket_only_backup_restore_is_enabled(aws, groups):
    groups.ensure_option_group(SPEC.model_copy(update={"audit_s3_bucket_arn": None}))

    assert options_of(aws) == {BACKUP_RESTORE: {"IAM_ROLE_ARN": ROLE}}


def test_compression_switched_off_in_the_policy_is_set_on_the_group(aws, groups):
    # AWS guide "Appendix.SQLServer.Options.Audit": ENABLE_COMPRESSION defaults to true; rdsbot sets it either way.
    groups.ensure_option_group(SPEC)

    groups.ensure_option_group(SPEC.model_copy(update={"audit_compression": False}))

    assert options_of(aws)[AUDIT]["ENABLE_COMPRESSION"] == "false"


def test_matching_group_is_reused_unchanged(aws, groups):
    groups.ensure_option_group(SPEC)
    calls = CallRecorder(aws)

    ensured = groups.ensure_option_group(SPEC)

    assert calls.operations == ["DescribeOptionGroups"]
    assert ensured.created is False


def test_group_pointing_at_another_role_is_corrected_in_place(aws, groups):
    old = "arn:aws:iam::123456789012:role/old"
    groups.ensure_option_group(SPEC.model_copy(update={"role_arn": old, "audit_role_arn": old + "-audit"}))
    calls = CallRecorder(aws)

    groups.ensure_option_group(SPEC)

    assert calls.mutating == [("rds", "ModifyOptionGroup")]
    assert options_of(aws)[BACKUP_RESTORE] == {"IAM_ROLE_ARN": ROLE}
    assert options_of(aws)[AUDIT]["IAM_ROLE_ARN"] == AUDIT_ROLE


def test_audit_is_removed_when_the_policy_drops_the_audit_bucket(aws, groups):
    groups.ensure_option_group(SPEC)

    groups.ensure_option_group(SPEC.model_copy(update={"audit_s3_bucket_arn": None}))

    assert set(options_of(aws)) == {BACKUP_RESTORE}


def test_group_made_by_hand_without_options_is_completed(aws, groups):
    aws.rds.create_option_group(
        OptionGroupName=SPEC.name, EngineName="sqlserver-se", MajorEngineVersion="15.00", OptionGroupDescription="x"
    )
    calls = CallRecorder(aws)

    ensured = groups.ensure_option_group(SPEC)

    assert calls.count("CreateOptionGroup") == 0 and ensured.created is False
    assert set(options_of(aws)) == {BACKUP_RESTORE, AUDIT}


def test_group_of_that_name_for_another_engine_is_refused(aws, groups):
    aws.rds.create_option_group(
        OptionGroupName=SPEC.name, EngineName="sqlserver-ee", MajorEngineVersion="14.00", OptionGroupDescription="x"
    )

    with pytest.raises(StageError, match=re.escape("is for sqlserver-ee 14.00, not sqlserver-se 15.00")):
        groups.ensure_option_group(SPEC)


@pytest.mark.parametrize("audit_role", [None, ROLE])
def test_audit_never_runs_under_the_restore_role(groups, audit_role):
    with pytest.raises(StageError, match="SQLSERVER_AUDIT needs its own role"):
        groups.ensure_option_group(SPEC.model_copy(update={"audit_role_arn": audit_role}))


def test_an_into_targets_option_group_is_read_not_changed(aws, groups):
    # The --into preflight reads which options an existing instance's group carries (DescribeOptionGroups only).
    aws.rds.create_option_group(
        OptionGroupName="team-plain",
        EngineName="sqlserver-se",
        MajorEngineVersion="15.00",
        OptionGroupDescription="no native restore",
    )
    groups.ensure_option_group(SPEC)
    plain, ours = groups.describe("team-plain"), groups.describe(SPEC.name)
    assert plain is not None and plain.options == set() and plain.backup_restore_role_arn is None
    assert ours is not None and ours.options == {BACKUP_RESTORE, AUDIT} and ours.backup_restore_role_arn == ROLE
    assert groups.describe("rdsbot-no-such-group") is None


TDE_SPEC = SPEC.model_copy(update={"name": "rdsbot-sqlserver-ee-15-00-kabc-tde", "engine": "sqlserver-ee", "tde": True})


def test_a_tde_group_carries_tde_beside_backup_restore_and_audit(aws, groups):
    groups.ensure_option_group(TDE_SPEC)
    # AWS guide "TDE.BackupRestoreRDS", limitations: SQLSERVER_BACKUP_RESTORE and TDE both, TDE without settings.
    assert set(options_of(aws, TDE_SPEC.name)) == {BACKUP_RESTORE, AUDIT, TDE}


def test_tde_missing_from_an_existing_group_is_added_even_though_it_has_no_settings(aws, groups):
    groups.ensure_option_group(TDE_SPEC.model_copy(update={"tde": False}))
    assert TDE not in options_of(aws, TDE_SPEC.name)
    groups.ensure_option_group(TDE_SPEC)
    assert TDE in options_of(aws, TDE_SPEC.name)


def test_tde_is_never_removed_it_is_a_persistent_option(aws, groups):
    groups.ensure_option_group(TDE_SPEC)
    groups.ensure_option_group(TDE_SPEC.model_copy(update={"tde": False}))
    assert TDE in options_of(aws, TDE_SPEC.name)
