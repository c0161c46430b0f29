"""aws/backup_role.BackupRoleGrants.missing_permissions on botocore's Stubber (moto does not implement
iam:SimulatePrincipalPolicy): each EvalDecision (IAM API reference "SimulatePrincipalPolicy", EvaluationResult:
allowed | explicitDeny | implicitDeny) lands where bot/role_evaluation.py says, per action and resource as asked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from aws.backup_role import BackupRoleGrants
from bot.backup_target import BackupGrant
from tests.support.stubbed import stubbed_client

ROLE = "arn:aws:iam::123456789012:role/team-backups"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OBJECTS = "arn:aws:s3:::rdsbot-backups/copies/*"
BUCKET = "arn:aws:s3:::rdsbot-backups"
GRANT = BackupGrant(bucket="rdsbot-backups", object_pattern="copies/*", kms_key_arn=KEY)


@pytest.fixture
def iam() -> Iterator[tuple[Any, Stubber]]:
    with stubbed_client("iam") as stubbed:
        yield stubbed


def _answer(stub: Stubber, actions: tuple[str, ...], resource: str, decisions: dict[str, str]) -> None:
    stub.add_response(
        "simulate_principal_policy",
        {
            "EvaluationResults": [
                {"EvalActionName": a, "EvalResourceName": resource, "EvalDecision": decisions.get(a, "allowed")}
                for a in actions
            ],
            "IsTruncated": False,
        },
        {"PolicySourceArn": ROLE, "ActionNames": list(actions), "ResourceArns": [resource]},
    )


def test_only_an_explicit_deny_is_denied_and_implicit_ones_name_the_key_or_bucket_policy(iam):
    client, stub = iam
    _answer(
        stub,
        ("s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"),
        OBJECTS,
        {"s3:PutObject": "implicitDeny", "s3:AbortMultipartUpload": "explicitDeny"},
    )
    _answer(stub, ("s3:ListBucket", "s3:GetBucketLocation"), BUCKET, {})
    _answer(stub, ("kms:DescribeKey", "kms:GenerateDataKey", "kms:Encrypt"), KEY, {"kms:Encrypt": "implicitDeny"})
    gaps = BackupRoleGrants(client).missing_permissions(ROLE, GRANT)
    assert gaps is not None
    assert gaps.denied == (f"s3:AbortMultipartUpload on {OBJECTS}",)
    assert gaps.unconfirmed == (f"s3:PutObject on {OBJECTS}", f"kms:Encrypt on {KEY}")
    assert gaps.granted_where == ("the bucket policy of rdsbot-backups", f"the key policy of {KEY}")


def test_a_role_iam_allows_everything_has_no_gaps(iam):
    client, stub = iam
    _answer(stub, ("s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"), OBJECTS, {})
    _answer(stub, ("s3:ListBucket", "s3:GetBucketLocation"), BUCKET, {})
    _answer(stub, ("kms:DescribeKey", "kms:GenerateDataKey", "kms:Encrypt"), KEY, {})
    gaps = BackupRoleGrants(client).missing_permissions(ROLE, GRANT)
    assert gaps is not None and (gaps.denied, gaps.unconfirmed) == ((), ())
