"""The role RDS assumes for native backup/restore, against a moto server over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aws.clients import AwsClients
from aws.iam import AUDIT_POLICY_NAME, POLICY_NAME, RestoreRoles
from aws.identity import CallerIdentity
from bot.errors import StageError
from bot.ports import AuditRoleSpec, RolePlacement, RoleSpec
from tests.support.aws_calls import CallRecorder

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SPEC = RoleSpec(role_name="rdsbot-restore", backup_buckets=("sql-backups",))
AUDIT = AuditRoleSpec(role_name="rdsbot-sqlserver-audit", bucket="sql-audit", key_prefix="trail/sqlserver")
BOUNDARY = "arn:aws:iam::123456789012:policy/rdsbot-role-boundary"


@pytest.fixture
def roles(aws: AwsClients) -> RestoreRoles:
    return RestoreRoles(aws.iam, CallerIdentity(aws.sts))


def inline_policy(aws: AwsClients, role: str = SPEC.role_name, name: str = POLICY_NAME) -> dict[str, Any]:
    document: dict[str, Any] = aws.iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    return document


def statement(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in policy["Statement"] if s["Sid"] == sid)


def test_role_trusts_only_the_rds_service_for_this_accounts_instances_and_option_groups(aws, roles):
    # AWS guide "SQLServer.Procedural.Importing.Native.Enabling": aws:SourceAccount and aws:SourceArn in the trust.
    arn = roles.ensure_restore_role(SPEC)

    role = aws.iam.get_role(RoleName=SPEC.role_name)["Role"]
    assert role["Arn"] == arn and role["Path"] == "/rdsbot/"
    statements = role["AssumeRolePolicyDocument"]["Statement"]
    assert len(statements) == 1
    assert statements[0]["Effect"] == "Allow"
    assert statements[0]["Principal"] == {"Service": "rds.amazonaws.com"}
    assert statements[0]["Action"] == "sts:AssumeRole"
    assert statements[0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": ["arn:aws:rds:*:123456789012:db:*", "arn:aws:rds:*:123456789012:og:rdsbot-*"]},
    }
    assert {"Key": "managed-by", "Value": "rdsbot"} in role["Tags"]


def test_restore_role_reads_the_backup_buckets_and_writes_nothing(aws, roles):
    roles.ensure_restore_role(SPEC)

    policy = inline_policy(aws)
    locate = statement(policy, "LocateBackupBuckets")
    assert set(locate["Action"]) == {"s3:ListBucket", "s3:GetBucketLocation"}
    assert locate["Resource"] == ["arn:aws:s3:::sql-backups"]
    objects = statement(policy, "ReadBackupObjects")
    assert set(objects["Action"]) == {"s3:GetObject", "s3:GetObjectAttributes"}
    assert objects["Resource"] == ["arn:aws:s3:::sql-backups/*"]
    assert "sql-audit" not in json.dumps(policy)


def test_audit_role_writes_only_under_the_sql_server_audit_prefix(aws, roles):
    # AWS guide "Appendix.SQLServer.Options.Audit.IAM": ListAllMyBuckets, GetBucketACL, GetBucketLocation, PutObject.
    arn = roles.ensure_audit_role(AUDIT)

    assert arn != roles.ensure_restore_role(SPEC)
    policy = inline_policy(aws, AUDIT.role_name, AUDIT_POLICY_NAME)
    by_action = {a: s["Resource"] for s in policy["Statement"] for a in s["Action"]}
    assert by_action == {
        "s3:ListAllMyBuckets": "*",
        "s3:GetBucketAcl": "arn:aws:s3:::sql-audit",
        "s3:GetBucketLocation": "arn:aws:s3:::sql-audit",
        "s3:PutObject": "arn:aws:s3:::sql-audit/trail/sqlserver/*",
    }


def test_an_upgrade_takes_put_object_away_from_an_old_restore_role(aws, roles):
    old = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"}],
    }
    roles.ensure_restore_role(SPEC)
    aws.iam.put_role_policy(RoleName=SPEC.role_name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(old))

    roles.ensure_restore_role(SPEC)

    assert "s3:PutObject" not in json.dumps(inline_policy(aws))


def test_roles_carry_the_configured_permissions_boundary(aws, roles):
    placement = RolePlacement(permissions_boundary_arn=BOUNDARY)
    roles.ensure_audit_role(AUDIT.model_copy(update={"placement": placement}))
    made_before = SPEC.model_copy(update={"role_name": "rdsbot-older"})
    roles.ensure_restore_role(made_before)

    roles.ensure_restore_role(made_before.model_copy(update={"placement": placement}))

    for name in (AUDIT.role_name, "rdsbot-older"):
        role = aws.iam.get_role(RoleName=name)["Role"]
        assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == BOUNDARY


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
    made = aws.iam.create_role(RoleName=SPEC.role_name, Path="/rdsbot/", AssumeRolePolicyDocument=json.dumps(trust))
    calls = CallRecorder(aws)

    arn = roles.ensure_restore_role(SPEC)

    assert arn == made["Role"]["Arn"]
    assert calls.count("CreateRole") == 0
    assert calls.count("PutRolePolicy") == 1
    assert statement(inline_policy(aws), "LocateBackupBuckets")


def test_a_new_backup_bucket_in_the_policy_updates_the_inline_policy(aws, roles):
    roles.ensure_restore_role(SPEC)
    calls = CallRecorder(aws)

    roles.ensure_restore_role(SPEC.model_copy(update={"backup_buckets": ("sql-backups", "sql-backups-2")}))

    assert calls.mutating == [("iam", "PutRolePolicy")]
    assert "arn:aws:s3:::sql-backups-2" in statement(inline_policy(aws), "LocateBackupBuckets")["Resource"]


@pytest.mark.parametrize("path", ["/", "/platform/"])
def test_a_role_of_that_name_outside_roles_path_is_refused_unchanged_naming_roles_path(aws, roles, path):
    # The shipped IAM policy lets rdsbot change only role/<roles.path>rdsbot-* (and the legacy root
    # rdsbot-native-restore*): anything else would meet AccessDenied on PutRolePolicy, so say what to do instead.
    rds = {"Effect": "Allow", "Principal": {"Service": "rds.amazonaws.com"}, "Action": "sts:AssumeRole"}
    trust = {"Version": "2012-10-17", "Statement": [rds]}
    aws.iam.create_role(RoleName=SPEC.role_name, Path=path, AssumeRolePolicyDocument=json.dumps(trust))
    calls = CallRecorder(aws)

    with pytest.raises(StageError, match=rf"rdsbot-restore exists at path {path}, outside roles.path /rdsbot/"):
        roles.ensure_restore_role(SPEC)

    assert calls.mutating == []
