"""The network restores will use: the VPC (default or named) with subnets in two or more AZs, read through the
same code the network stage runs (aws/network.py), and the security groups the policy names exist in it.

AWS: "Working with a DB instance in a VPC" (RDS user guide, USER_VPC.WorkingWithRDSInstanceinaVPC): a DB subnet
group needs subnets in at least two Availability Zones of the region.
"""

from __future__ import annotations

from typing import Any

from aws.errors import aws_call
from aws.network import Network
from bot.doctor import CheckResult, fail, ok
from bot.errors import AwsError, StageError
from bot.ports import NetworkSpec
from config.policy_model import Policy


class NetworkChecks:
    def __init__(self, ec2: Any, rds: Any, policy: Policy, region: str) -> None:
        self._ec2 = ec2
        self._network = Network(ec2, rds)
        self._policy = policy
        self._region = region

    def vpc(self) -> list[CheckResult]:
        net = self._policy.network
        where = f"{net.vpc_id or 'default VPC'} in {self._region}"
        try:
            vpc_id, subnets = self._network.placement_preview(NetworkSpec(vpc_id=net.vpc_id, subnet_ids=net.subnet_ids))
        except (StageError, AwsError) as exc:
            fix = (
                f"aws ec2 create-default-vpc --region {self._region}, or set network.vpc_id and network.subnet_ids"
                if not net.vpc_id
                else "set network.vpc_id / network.subnet_ids to a VPC and subnets in two or more AZs"
            )
            return [fail("network", "VPC and subnets", where, str(exc), fix)]
        zones = sorted(set(subnets.values()))
        results = [ok("network", "VPC and subnets", f"{vpc_id} ({self._region})", f"subnets in {', '.join(zones)}")]
        return results + self._security_groups(vpc_id)

    def _security_groups(self, vpc_id: str) -> list[CheckResult]:
        # network.bot_sources (the bot's own security groups, admitted to port 1433) may not exist in the policy
        # model yet; read it the same way as the client groups when it does.
        named = {
            "network.bot_sources": tuple(getattr(self._policy.network, "bot_sources", ()) or ()),
            "network.allowed_source_security_groups": self._policy.network.allowed_source_security_groups,
        }
        results = []
        for setting, groups in named.items():
            groups = tuple(g for g in groups if str(g).startswith("sg-"))
            if not groups:
                continue
            found: dict[str, str] = {}
            with aws_call("DescribeSecurityGroups"):
                pages = self._ec2.get_paginator("describe_security_groups").paginate(
                    Filters=[{"Name": "group-id", "Values": list(groups)}]
                )
                found = {g["GroupId"]: g["VpcId"] for page in pages for g in page["SecurityGroups"]}
            for group in groups:
                subject = f"{setting}: {group}"
                if group not in found:
                    fix = f"name a security group of {vpc_id} in {setting}"
                    results.append(fail("network", "security group", subject, f"not in {self._region}", fix))
                elif found[group] != vpc_id:
                    fix = f"name a security group of {vpc_id} in {setting}"
                    results.append(fail("network", "security group", subject, f"in {found[group]}", fix))
                else:
                    results.append(ok("network", "security group", subject, f"in {vpc_id}"))
        return results
