"""Where restore instances live: a VPC, a DB subnet group across two or more AZs, and a security group that admits
port 1433 from exactly the bot's own sources and the configured clients.

A new security group has no inbound rule, so it admits nothing until one is added, and the rules of every group on
an instance add up (AWS VPC user guide, "Security group rules": basics, and "Security group referencing" for a
group as a source).
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from aws.errors import aws_call, is_not_found
from bot import tags
from bot.domain import NetworkPlacement
from bot.errors import AwsError, StageError
from bot.ports import NetworkSpec
from config.policy_model import closed_network, is_security_group_id

log = logging.getLogger(__name__)

# A security group rule's source: ("group", sg-id) or ("cidr", normalised network) or ("prefix-list", pl-id).
_Source = tuple[str, str]
_CLIENT = "rdsbot: SQL Server client"
_BOT = "rdsbot: the bot itself (network.bot_sources)"


def subnet_group_name(vpc_id: str) -> str:
    """The DB subnet group rdsbot uses in a VPC."""
    return f"rdsbot-{vpc_id}"


def security_group_name(vpc_id: str) -> str:
    """The security group rdsbot puts its instances in, one per VPC."""
    return f"rdsbot-sqlserver-{vpc_id}"


class Network:
    """NetworkGateway over EC2 and RDS."""

    def __init__(self, ec2: Any, rds: Any) -> None:
        self._ec2 = ec2
        self._rds = rds

    def ensure_placement(self, spec: NetworkSpec) -> NetworkPlacement:
        """The subnet group and security group for `spec`, created or brought back in line as needed."""
        allowed = _allowed_sources(spec)
        vpc_id = self._vpc_id(spec)
        subnets = self._subnets(vpc_id, spec)
        created: list[str] = []
        if self._ensure_subnet_group(vpc_id, subnets):
            created.append("subnet_group")
        group_id, made = self._ensure_security_group(vpc_id)
        if made:
            created.append("security_group")
        self._reconcile_ingress(group_id, spec.port, allowed)
        return NetworkPlacement(
            vpc_id=vpc_id,
            subnet_group_name=subnet_group_name(vpc_id),
            security_group_id=group_id,
            created=tuple(created),
        )

    def placement_preview(self, spec: NetworkSpec) -> tuple[str, dict[str, str]]:
        """The VPC and subnet id -> AZ the network stage would use, read only; StageError when unusable."""
        vpc_id = self._vpc_id(spec)
        return vpc_id, self._subnets(vpc_id, spec)

    def _vpc_id(self, spec: NetworkSpec) -> str:
        if spec.vpc_id:
            try:
                with aws_call("DescribeVpcs"):
                    self._ec2.describe_vpcs(VpcIds=[spec.vpc_id])
            except AwsError as exc:
                if is_not_found(exc):
                    raise StageError(f"VPC {spec.vpc_id} does not exist in this region") from None
                raise
            return spec.vpc_id
        with aws_call("DescribeVpcs"):
            vpcs = self._ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
        if not vpcs:
            raise StageError("this region has no default VPC; set network.vpc_id and network.subnet_ids in the policy")
        vpc_id: str = vpcs[0]["VpcId"]
        return vpc_id

    def _subnets(self, vpc_id: str, spec: NetworkSpec) -> dict[str, str]:
        """Subnet id -> availability zone, checked to span at least two AZs."""
        if spec.subnet_ids:
            filters = [{"Name": "subnet-id", "Values": list(spec.subnet_ids)}]
        else:
            filters = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "default-for-az", "Values": ["true"]}]
        subnets: dict[str, str] = {}
        with aws_call("DescribeSubnets"):
            for page in self._ec2.get_paginator("describe_subnets").paginate(Filters=filters):
                for subnet in page["Subnets"]:
                    if subnet["VpcId"] != vpc_id:
                        raise StageError(f"subnet {subnet['SubnetId']} is in {subnet['VpcId']}, not in {vpc_id}")
                    subnets[subnet["SubnetId"]] = subnet["AvailabilityZone"]
        missing = sorted(set(spec.subnet_ids) - set(subnets))
        if missing:
            raise StageError(f"subnets {', '.join(missing)} do not exist in this region")
        zones = sorted(set(subnets.values()))
        if len(zones) < 2:
            where = f"only in {', '.join(zones)}" if zones else "in no availability zone"
            source = "the listed subnets are" if spec.subnet_ids else f"the default subnets of {vpc_id} are"
            raise StageError(
                f"an RDS subnet group needs subnets in at least two availability zones; {source} {where}; "
                "list subnets from two or more zones in network.subnet_ids"
            )
        return subnets

    def _ensure_subnet_group(self, vpc_id: str, subnets: dict[str, str]) -> bool:
        """True when this call created the group."""
        name = subnet_group_name(vpc_id)
        try:
            with aws_call("DescribeDBSubnetGroups"):
                group = self._rds.describe_db_subnet_groups(DBSubnetGroupName=name)["DBSubnetGroups"][0]
        except AwsError as exc:
            if not is_not_found(exc):
                raise
            with aws_call("CreateDBSubnetGroup"):
                self._rds.create_db_subnet_group(
                    DBSubnetGroupName=name,
                    DBSubnetGroupDescription=f"rdsbot restore instances in {vpc_id}",
                    SubnetIds=sorted(subnets),
                    Tags=tags.aws_tag_list(tags.MANAGED),
                )
            log.info("created DB subnet group %s", name)
            return True
        current = {s["SubnetIdentifier"] for s in group.get("Subnets", [])}
        if current != set(subnets):
            # The policy's subnet list changed (or a default subnet was added): follow it rather than drift.
            with aws_call("ModifyDBSubnetGroup"):
                self._rds.modify_db_subnet_group(DBSubnetGroupName=name, SubnetIds=sorted(subnets))
            log.info("updated DB subnet group %s to subnets %s", name, sorted(subnets))
        return False

    def _ensure_security_group(self, vpc_id: str) -> tuple[str, bool]:
        name = security_group_name(vpc_id)
        filters = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": [name]}]
        with aws_call("DescribeSecurityGroups"):
            groups = self._ec2.describe_security_groups(Filters=filters)["SecurityGroups"]
        if groups:
            found: str = groups[0]["GroupId"]
            return found, False
        with aws_call("CreateSecurityGroup"):
            made = self._ec2.create_security_group(
                GroupName=name,
                Description="rdsbot SQL Server restore instances; ingress only from the configured clients",
                VpcId=vpc_id,
                TagSpecifications=[{"ResourceType": "security-group", "Tags": tags.aws_tag_list(tags.MANAGED)}],
            )
        log.info("created security group %s (%s)", name, made["GroupId"])
        group_id: str = made["GroupId"]
        return group_id, True

    def _reconcile_ingress(self, group_id: str, port: int, allowed: dict[_Source, str]) -> None:
        """Make the group's ingress exactly `allowed` on `port`: revoke anything else, add what is missing."""
        present: set[_Source] = set()
        stray: list[str] = []
        with aws_call("DescribeSecurityGroupRules"):
            pages = self._ec2.get_paginator("describe_security_group_rules").paginate(
                Filters=[{"Name": "group-id", "Values": [group_id]}]
            )
            rules = [rule for page in pages for rule in page["SecurityGroupRules"] if not rule["IsEgress"]]
        for rule in rules:
            source = _rule_source(rule)
            on_port = rule["IpProtocol"] == "tcp" and rule.get("FromPort") == port and rule.get("ToPort") == port
            if on_port and source in allowed and source not in present:
                present.add(source)
            else:
                stray.append(rule["SecurityGroupRuleId"])
        if stray:
            # Someone widened the group by hand (0.0.0.0/0, another port...); an instance with data must not stay open.
            with aws_call("RevokeSecurityGroupIngress"):
                self._ec2.revoke_security_group_ingress(GroupId=group_id, SecurityGroupRuleIds=stray)
            log.warning("revoked %d ingress rule(s) rdsbot did not configure on %s", len(stray), group_id)
        missing = {source: allowed[source] for source in allowed.keys() - present}
        if missing:
            with aws_call("AuthorizeSecurityGroupIngress"):
                self._ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[_permission(port, missing)])
        if not allowed:
            log.warning(
                "security group %s admits nobody on %d, not even rdsbot; set network.bot_sources", group_id, port
            )


def _allowed_sources(spec: NetworkSpec) -> dict[_Source, str]:
    """Every source the group must admit, with the description its rule carries."""
    sources: dict[_Source, str] = {("group", group): _CLIENT for group in spec.allowed_source_security_groups}
    for cidr in spec.allowed_cidrs:
        sources[_cidr_source(cidr, "network.allowed_cidrs")] = _CLIENT
    for source in spec.bot_sources:
        key = ("group", source) if is_security_group_id(source) else _cidr_source(source, "network.bot_sources")
        sources[key] = _BOT
    return sources


def _cidr_source(cidr: str, key: str) -> _Source:
    try:
        # The policy refuses these too; checked again here because this is the last step before the door opens.
        return ("cidr", str(closed_network(cidr)))
    except ValueError as exc:
        raise StageError(f"{key}: {exc}") from None


def _rule_source(rule: dict[str, Any]) -> _Source | None:
    if rule.get("ReferencedGroupInfo"):
        return ("group", rule["ReferencedGroupInfo"]["GroupId"])
    cidr = rule.get("CidrIpv4") or rule.get("CidrIpv6")
    if cidr:
        return ("cidr", str(ipaddress.ip_network(cidr, strict=False)))
    if rule.get("PrefixListId"):
        return ("prefix-list", rule["PrefixListId"])
    return None


def _permission(port: int, sources: dict[_Source, str]) -> dict[str, Any]:
    cidrs = sorted((value, text) for (kind, value), text in sources.items() if kind == "cidr")
    groups = sorted((value, text) for (kind, value), text in sources.items() if kind == "group")
    return {
        "IpProtocol": "tcp",
        "FromPort": port,
        "ToPort": port,
        "IpRanges": [{"CidrIp": c, "Description": text} for c, text in cidrs if ":" not in c],
        "Ipv6Ranges": [{"CidrIpv6": c, "Description": text} for c, text in cidrs if ":" in c],
        "UserIdGroupPairs": [{"GroupId": g, "Description": text} for g, text in groups],
    }
