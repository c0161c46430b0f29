"""The doctor's AWS checks one by one on the moto server: each rule made to fail by the one thing it checks."""

from __future__ import annotations

from typing import Any

from aws.clients import AwsClients
from aws.readiness.buckets import BucketChecks
from aws.readiness.kms import KmsChecks
from aws.readiness.network import NetworkChecks
from bot.doctor import CheckResult, Status
from config.policy_model import parse_policy


def _policy(**extra: Any) -> Any:
    return parse_policy({"backups": {"default_bucket": "rdsbot-backups"}, **extra})


def _statuses(results: list[CheckResult]) -> list[tuple[str, Status]]:
    return [(r.check, r.status) for r in results]


def test_a_backup_bucket_outside_the_allowed_regions_fails(aws: AwsClients):
    aws.s3.create_bucket(Bucket="rdsbot-backups", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    [result] = BucketChecks(aws.s3, _policy(), lambda: None).backup_buckets()
    assert (result.status, result.subject) == (Status.FAIL, "s3://rdsbot-backups (eu-west-1)")
    assert result.fix is not None and "region.allowed" in result.fix


def test_an_audit_bucket_without_a_public_access_block_fails_and_with_one_passes(aws: AwsClients):
    aws.s3.create_bucket(Bucket="rdsbot-audit")
    checks = BucketChecks(aws.s3, _policy(audit={"bucket": "rdsbot-audit"}), lambda: None)
    assert ("audit bucket public access", Status.FAIL) in _statuses(checks.audit_bucket())
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    partial = {**dict.fromkeys(flags, True), "BlockPublicPolicy": False}
    aws.s3.put_public_access_block(Bucket="rdsbot-audit", PublicAccessBlockConfiguration=partial)
    public = next(r for r in checks.audit_bucket() if r.check == "audit bucket public access")
    assert (public.status, public.detail) == (Status.FAIL, "off: BlockPublicPolicy")
    aws.s3.put_public_access_block(Bucket="rdsbot-audit", PublicAccessBlockConfiguration=dict.fromkeys(flags, True))
    aws.s3.put_bucket_versioning(Bucket="rdsbot-audit", VersioningConfiguration={"Status": "Enabled"})
    results = checks.audit_bucket()
    assert {r.status for r in results} == {Status.OK}
    assert results[-1].detail == "versioning Enabled, Object Lock off"


def test_the_audit_kms_key_must_be_enabled(aws: AwsClients):
    meta = aws.kms.create_key(Description="rdsbot audit")["KeyMetadata"]
    key = meta["Arn"]
    checks = KmsChecks(aws.kms, _policy(audit={"bucket": "a", "kms_key_id": key}), lambda: None)
    assert _statuses(checks.keys()) == [("key", Status.OK), ("key policy", Status.OK)]  # moto: the account root
    aws.kms.disable_key(KeyId=meta["KeyId"])
    [result] = checks.keys()
    assert result.status == Status.FAIL and "state Disabled" in result.detail


def test_an_asymmetric_or_missing_key_fails_and_no_key_is_ok(aws: AwsClients):
    rsa = aws.kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    [result] = KmsChecks(aws.kms, _policy(audit={"kms_key_id": rsa}), lambda: None).keys()
    assert result.status == Status.FAIL and "RSA_2048" in result.detail
    [missing] = KmsChecks(aws.kms, _policy(audit={"kms_key_id": "alias/nope"}), lambda: None).keys()
    assert missing.status == Status.FAIL and missing.subject == "audit.kms_key_id: alias/nope"
    assert _statuses(KmsChecks(aws.kms, _policy(), lambda: None).keys()) == [("keys", Status.OK)]


def test_a_named_security_group_of_another_vpc_fails(aws: AwsClients):
    other = aws.ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    group = aws.ec2.create_security_group(GroupName="clients", Description="c", VpcId=other)["GroupId"]
    policy = _policy(network={"allowed_source_security_groups": [group]})
    results = NetworkChecks(aws.ec2, aws.rds, policy, "us-east-1").vpc()
    assert _statuses(results) == [("VPC and subnets", Status.OK), ("security group", Status.FAIL)]
    assert results[1].detail == f"in {other}"


def test_a_named_vpc_that_does_not_exist_fails_with_the_setting_to_fix(aws: AwsClients):
    policy = _policy(network={"vpc_id": "vpc-0000000000000dead"})
    [result] = NetworkChecks(aws.ec2, aws.rds, policy, "us-east-1").vpc()
    assert result.status == Status.FAIL and "does not exist" in result.detail
    assert result.fix is not None and "network.vpc_id" in result.fix
