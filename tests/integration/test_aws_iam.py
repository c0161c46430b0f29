"""The role RDS assumes for native backup/restore, against a moto server over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aws.clients import AwsClients
from aws.iam import POLICY_NAME, RestoreRoles
from bot.ports import RoleSpec
from tests.support.aws_calls import CallRecorder

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SPEC = RoleSpec(role_name="rdsbot-restore", backup_buckets=("sql-backups",), audit_bucket="sql-audit")


@pytest.fixture
def roles(aws: AwsClients) -> RestoreRoles:
    return RestoreRoles(aws.iam, aws.sts)


def inline_policy(aws: AwsClients, role: str = SPEC.role_name) -> dict[str, Any]:
    document: dict[str, Any] = aws.iam.get_role_policy(RoleName=role, PolicyName=POLICY_NAME)["PolicyDocument"]
    return document


def statement(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in policy["Statement"] if s["Sid"] == sid)


def test_role_trusts_only_the_rds_service(aws, roles):
    arn = roles.ensure_restore_role(SPEC)

    role = aws.iam.get_role(RoleName=SPEC.role_name)["Role"]
    assert role["Arn"] == arn
    statements = role["AssumeRolePolicyDocument"]["Statement"]
    assert len(statements) == 1
    assert statements[0]["Effect"] == "Allow"
    assert statements[0]["Principal"] == {"Service": "rds.amazonaws.com"}
    assert statements[0]["Action"] == "sts:AssumeRole"
    assert statements[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert {"Key": "managed-by", "Value": "rdsbot"} in role["Tags"]


def test_inline_policy_covers_backup_and_audit_buckets_and_their_objects(aws, roles):
    roles.ensure_restore_role(SPEC)

    policy = inline_policy(aws)
    locate = statement(policy, "LocateBuckets")
    assert set(locate["Action"]) == {"s3:ListBucket", "s3:GetBucketLocation"}
    assert set(locate["Resource"]) == {"arn:aws:s3:::sql-backups", "arn:aws:s3:::sql-audit"}
    objects = statement(policy, "ReadWriteBackupObjects")
    assert set(objects["Action"]) == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListMultipartUploadParts",
        "s3:AbortMultipartUpload",
    }
    assert set(objects["Resource"]) == {"arn:aws:s3:::sql-backups/*", "arn:aws:s3:::sql-audit/*"}


def test_no_kms_permission_without_a_key(aws, roles):
    roles.ensure_restore_role(SPEC)

    actions = [a for s in inline_policy(aws)["Statement"] for a in s["Action"]]
    assert not any(a.startswith("kms:") for a in actions)


def test_kms_permission_is_granted_only_on_the_given_key(aws, roles):
    roles.ensure_restore_role(SPEC.model_copy(update={"kms_key_arns": (KEY,)}))

    kms = statement(inline_policy(aws), "UseBackupKeys")
    assert set(kms["Action"]) == {"kms:DescribeKey", "kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"}
    assert kms["Resource"] == [KEY]


def test_second_ensure_reuses_the_role_and_changes_nothing(aws, roles):
    first = roles.ensure_restore_role(SPEC)
    calls = CallRecorder(aws)

    second = roles.ensure_restore_role(SPEC)

    assert second == first
    assert calls.mutating == []


def test_a_widened_trust_policy_is_reset_to_rds_only(aws, roles):
    roles.ensure_restore_role(SPEC)
    widened = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    aws.iam.update_assume_role_policy(RoleName=SPEC.role_name, PolicyDocument=json.dumps(widened))
    calls = CallRecorder(aws)

    roles.ensure_restore_role(SPEC)

    assert calls.mutating == [("iam", "UpdateAssumeRolePolicy")]
    principals = [
        s["Principal"]
        for s in aws.iam.get_role(RoleName=SPEC.role_name)["Role"]["AssumeRolePolicyDocument"]["Statement"]
    ]
    assert principals == [{"Service": "rds.amazonaws.com"}]


def test_role_created_by_hand_is_reused_and_given_the_policy(aws, roles):
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "rds.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    made = aws.iam.create_role(RoleName=SPEC.role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    calls = CallRecorder(aws)

    arn = roles.ensure_restore_role(SPEC)

    assert arn == made["Arn"]
    assert calls.count("CreateRole") == 0
    assert calls.count("PutRolePolicy") == 1
    assert statement(inline_policy(aws), "LocateBuckets")


def test_a_new_backup_bucket_in_the_policy_updates_the_inline_policy(aws, roles):
    roles.ensure_restore_role(SPEC)
    calls = CallRecorder(aws)

    roles.ensure_restore_role(SPEC.model_copy(update={"backup_buckets": ("sql-backups", "sql-backups-2")}))

    assert calls.mutating == [("iam", "PutRolePolicy")]
    assert "arn:aws:s3:::sql-backups-2" in statement(inline_policy(aws), "LocateBuckets")["Resource"]
