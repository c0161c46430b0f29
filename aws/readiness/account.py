"""Every AWS check of rdsbot doctor, in report order, over one region's clients (and each allowed region's RDS)."""

from __future__ import annotations

from collections.abc import Callable

from aws.clients import AwsClients
from aws.readiness.approvers import ApproverChecks
from aws.readiness.buckets import BucketChecks
from aws.readiness.identity import IdentityChecks
from aws.readiness.kms import KmsChecks
from aws.readiness.network import NetworkChecks
from aws.readiness.rds import RdsChecks
from bot.doctor import Check
from bot.errors import AwsError
from config.policy_model import Policy


def account_checks(clients_for: Callable[[str], AwsClients], policy: Policy) -> list[tuple[str, Check]]:
    """(area, check) pairs; identity is read once and shared by the checks that need the account or principal."""
    home = clients_for(policy.region.default)
    identity = IdentityChecks(home.sts, home.iam, policy)

    def account() -> str | None:
        try:
            return identity.caller().account
        except AwsError:
            return None

    def principal() -> str | None:
        try:
            return identity.caller().principal_arn
        except AwsError:
            return None

    buckets = BucketChecks(home.s3, policy, account)
    checks: list[tuple[str, Check]] = [
        ("identity", identity.identity),
        ("identity", identity.permissions),
        ("buckets", buckets.backup_buckets),
        ("buckets", buckets.audit_bucket),
        ("kms", KmsChecks(home.kms, policy, principal).keys),
    ]
    # The VPC is the policy's (one region) when named; each allowed region's default VPC otherwise.
    network_regions = (policy.region.default,) if policy.network.vpc_id else policy.region.allowed
    for region in network_regions:
        aws = clients_for(region)
        checks.append(("network", NetworkChecks(aws.ec2, aws.rds, policy, region).vpc))
    for region in policy.region.allowed:
        rds = RdsChecks(clients_for(region).rds, policy, region)
        checks += [("rds", rds.orderable), ("rds", rds.engine_version), ("rds", rds.options), ("rds", rds.quota)]
    checks.append(("approvers", ApproverChecks(home.iam, policy.approvals.admin_iam_group).admin_group))
    return checks
