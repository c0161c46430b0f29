"""The AWS side of /rds-backup against a moto server over HTTP: the destination's objects (HeadObject), the option
group's role (IAM_ROLE_ARN of SQLSERVER_BACKUP_RESTORE), and the grant that lets a role rdsbot manages write the
destination (AWS guide "SQLServer.Procedural.Importing.Native.Enabling")."""

from __future__ import annotations

import json

import pytest

from aws.backup_role import BackupRoleGrants, grant_policy, policy_name
from aws.clients import AwsClients
from aws.option_groups import OptionGroups
from aws.s3 import S3Backups
from bot.backup_target import BackupGrant
from bot.ports import OptionGroupSpec

BUCKET = "sql-copies"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "rds.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


@pytest.fixture
def bucket(aws: AwsClients) -> str:
    aws.s3.create_bucket(Bucket=BUCKET)
    return BUCKET


def test_existing_objects_names_only_those_that_exist_with_their_sizes(aws, bucket):
    aws.s3.put_object(Bucket=bucket, Key="copies/p-1-of-2.bak", Body=b"x" * 7)
    found = S3Backups(aws.s3).existing_objects(bucket, ("copies/p-1-of-2.bak", "copies/p-2-of-2.bak"))
    assert found == {"copies/p-1-of-2.bak": 7}


def test_the_option_groups_backup_restore_role_is_read_from_its_setting(aws):
    role = "arn:aws:iam::123456789012:role/rdsbot/rdsbot-native-restore"
    groups = OptionGroups(aws.rds)
    groups.ensure_option_group(
        OptionGroupSpec(
            name="rdsbot-sqlserver-se-15-00",
            engine="sqlserver-se",
            major_version="15.00",
            role_arn=role,
            audit_s3_bucket_arn=None,
            audit_role_arn=None,
        )
    )
    found = groups.describe("rdsbot-sqlserver-se-15-00")
    assert found is not None and found.backup_restore_role_arn == role
    assert groups.describe("rdsbot-no-such-group") is None


def test_a_managed_role_is_granted_exactly_the_documented_writes_once_per_destination(aws):
    arn = aws.iam.create_role(
        RoleName="rdsbot-native-restore", Path="/rdsbot/", AssumeRolePolicyDocument=json.dumps(TRUST)
    )["Role"]["Arn"]
    grant = BackupGrant(bucket=BUCKET, object_pattern="copies/*", kms_key_arn=KEY)
    grants = BackupRoleGrants(aws.iam)
    grants.grant_backup_writes(arn, grant)
    grants.grant_backup_writes(arn, grant)  # again: the same one policy
    names = aws.iam.list_role_policies(RoleName="rdsbot-native-restore")["PolicyNames"]
    assert names == [policy_name(grant)]
    document = aws.iam.get_role_policy(RoleName="rdsbot-native-restore", PolicyName=names[0])["PolicyDocument"]
    statements = {s["Sid"]: (sorted(s["Action"]), s["Resource"]) for s in document["Statement"]}
    assert statements == {
        "WriteTheBackup": (
            ["s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:PutObject"],
            f"arn:aws:s3:::{BUCKET}/copies/*",
        ),
        "FindTheBucket": (["s3:GetBucketLocation", "s3:ListBucket"], f"arn:aws:s3:::{BUCKET}"),
        "EncryptTheBackup": (["kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"], KEY),
    }


def test_no_kms_statement_without_a_backup_key():
    document = grant_policy(BackupGrant(bucket=BUCKET, object_pattern="copies/*", kms_key_arn=None))
    assert [s["Sid"] for s in document["Statement"]] == ["WriteTheBackup", "FindTheBucket"]


def test_another_destination_gets_a_policy_of_its_own():
    first = BackupGrant(bucket=BUCKET, object_pattern="copies/*", kms_key_arn=None)
    assert policy_name(first) != policy_name(first.__class__(bucket=BUCKET, object_pattern="other/*", kms_key_arn=None))


def test_a_role_iam_cannot_evaluate_here_is_reported_as_unchecked_not_as_allowed(aws):
    # moto does not implement SimulatePrincipalPolicy (FACTS.md): the bot says it could not check, never "allowed".
    arn = aws.iam.create_role(RoleName="team-backups", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    grant = BackupGrant(bucket=BUCKET, object_pattern="copies/*", kms_key_arn=None)
    assert BackupRoleGrants(aws.iam).missing_permissions(arn, grant) is None
