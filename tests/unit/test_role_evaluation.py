"""bot/role_evaluation.py: which of IAM's simulated decisions about a role refuse a request, and which only a key or
bucket policy may settle (IAM API reference "SimulatePrincipalPolicy": resource policies are simulated for users
only)."""

from __future__ import annotations

import pytest

from bot.role_evaluation import RoleGaps, SimulatedPermission, granted_elsewhere

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize(
    ("action", "resource", "where"),
    [
        ("kms:Decrypt", KEY, f"the key policy of {KEY}"),
        ("s3:GetObject", "arn:aws:s3:::certs/tde/db.pvk", "the bucket policy of certs"),
        ("s3:GetBucketAcl", "arn:aws:s3:::certs", "the bucket policy of certs"),
        ("s3:GetObject", "arn:aws-us-gov:s3:::certs/db.cer", "the bucket policy of certs"),
        ("s3:ListAllMyBuckets", "*", None),  # no resource, so no resource policy
        ("iam:PassRole", "arn:aws:s3:::certs", None),  # a bucket policy grants S3 actions only
    ],
)
def test_only_kms_actions_and_s3_buckets_or_objects_may_be_granted_by_a_resource_policy(action, resource, where):
    assert granted_elsewhere(action, resource) == where


def test_a_decision_iam_adds_later_is_read_as_denied_never_as_unconfirmed():
    gaps = RoleGaps.from_simulation(
        [
            SimulatedPermission("kms:Decrypt", KEY, "someNewDecision"),
            SimulatedPermission("kms:DescribeKey", KEY, "implicitDeny"),
            SimulatedPermission("kms:Encrypt", KEY, "allowed"),
        ]
    )
    assert (gaps.denied, gaps.unconfirmed) == ((f"kms:Decrypt on {KEY}",), (f"kms:DescribeKey on {KEY}",))
    assert gaps.granted_where == (f"the key policy of {KEY}",)
