"""The sandbox's RDS imports a TDE certificate only as a role allowed to (AWS guide "TDE.BackupRestoreRDS",
prerequisites), judged from the role's policies as IAM evaluates them (IAM guide "reference_policies_evaluation-logic").
rdsbot's own -tde role passes; its plain restore role, which lacks s3:GetBucketAcl and s3:ListAllMyBuckets, does not:
a sandbox that imported as any role would pass neither check."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aws.clients import AwsClients
from aws.iam import RestoreRoles
from aws.identity import CallerIdentity
from aws.sandbox.sql_server.role_policies import allowed, lacks, role_documents
from bot.ports import RoleSpec
from bot.role_needs import TdeImportNeeds

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
NEEDS = TdeImportNeeds(
    certificate_s3_arn="arn:aws:s3:::sql-backups/tde/db.cer",
    private_key_s3_arn="arn:aws:s3:::sql-backups/tde/db.pvk",
    password_key_arn=KEY,
)


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


@pytest.mark.parametrize(
    ("statements", "action", "resource", "verdict"),
    [
        ([], "s3:GetObject", "arn:aws:s3:::b/k", False),  # nothing allows it: implicit deny
        (
            [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"}],
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            True,
        ),
        ([{"Effect": "Allow", "Action": "S3:GETOBJECT", "Resource": "*"}], "s3:GetObject", "arn:aws:s3:::b/k", True),
        (
            [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::B/*"}],
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            False,
        ),
        (
            [
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": KEY},
            ],
            "kms:Decrypt",
            KEY,
            False,  # an explicit deny wins
        ),
        ([{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}], "s3:GetObject", "arn:aws:s3:::b/k", False),
    ],
)
def test_iam_evaluation_rules(statements, action, resource, verdict) -> None:
    assert allowed([policy(*statements)], action, resource) is verdict


@pytest.mark.parametrize(
    ("tde", "missing"),
    [(True, []), (False, ["s3:GetBucketAcl on arn:aws:s3:::sql-backups", "s3:ListAllMyBuckets on *"])],
)
def test_rdsbots_tde_role_may_import_and_its_plain_role_may_not(aws: AwsClients, tde: bool, missing: list[str]) -> None:
    name = "rdsbot-native-restore-kx" + ("-tde" if tde else "")
    RestoreRoles(aws.iam, CallerIdentity(aws.sts)).ensure_restore_role(
        RoleSpec(role_name=name, backup_buckets=("sql-backups",), kms_key_arns=(KEY,), tde=tde)
    )
    assert lacks(role_documents(aws.iam, name), NEEDS) == missing


def test_attached_managed_policies_count_too(aws: AwsClients) -> None:
    aws.iam.create_role(RoleName="team-restore", AssumeRolePolicyDocument="{}")
    everything = aws.iam.create_policy(
        PolicyName="team-everything",
        PolicyDocument=json.dumps(policy({"Effect": "Allow", "Action": "*", "Resource": "*"})),
    )["Policy"]["Arn"]
    assert lacks(role_documents(aws.iam, "team-restore"), NEEDS) != []
    aws.iam.attach_role_policy(RoleName="team-restore", PolicyArn=everything)
    assert lacks(role_documents(aws.iam, "team-restore"), NEEDS) == []
