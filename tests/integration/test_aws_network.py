"""Network placement of restore instances, against a moto server over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from aws.clients import AwsClients
from aws.network import Network, security_group_name, subnet_group_name
from bot.errors import StageError
from bot.ports import NetworkSpec
from tests.support.aws_calls import CallRecorder

OFFICE = "10.20.0.0/16"


@pytest.fixture
def network(aws: AwsClients) -> Network:
    return Network(aws.ec2, aws.rds)


@pytest.fixture
def app_group(aws: AwsClients) -> str:
    vpc = aws.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    group_id: str = aws.ec2.create_security_group(GroupName="app", Description="app servers", VpcId=vpc)["GroupId"]
    return group_id


def ingress(aws: AwsClients, group_id: str) -> list[dict[str, Any]]:
    rules = aws.ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])
    return [r for r in rules["SecurityGroupRules"] if not r["IsEgress"]]


def sources(rules: list[dict[str, Any]]) -> set[str]:
    return {r.get("CidrIpv4") or r.get("CidrIpv6") or r["ReferencedGroupInfo"]["GroupId"] for r in rules}


def test_default_vpc_placement_uses_a_subnet_group_across_at_least_two_zones(aws, network):
    placement = network.ensure_placement(NetworkSpec(allowed_cidrs=(OFFICE,)))

    default_vpc = aws.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    assert placement.vpc_id == default_vpc
    assert placement.subnet_group_name == f"rdsbot-{default_vpc}"
    group = aws.rds.describe_db_subnet_groups(DBSubnetGroupName=placement.subnet_group_name)["DBSubnetGroups"][0]
    zones = {s["SubnetAvailabilityZone"]["Name"] for s in group["Subnets"]}
    assert len(zones) >= 2
    assert set(placement.created) == {"subnet_group", "security_group"}


def test_security_group_admits_only_the_configured_clients_on_the_sql_port(aws, network, app_group):
    placement = network.ensure_placement(
        NetworkSpec(allowed_cidrs=(OFFICE,), allowed_source_security_groups=(app_group,), port=1433)
    )

    rules = ingress(aws, placement.security_group_id)
    assert sources(rules) == {OFFICE, app_group}
    assert all((r["IpProtocol"], r["FromPort"], r["ToPort"]) == ("tcp", 1433, 1433) for r in rules)
    assert not any(r.get("CidrIpv4") == "0.0.0.0/0" or r.get("CidrIpv6") == "::/0" for r in rules)


BOT_HOST = "10.0.0.10/32"


def test_security_group_admits_exactly_the_bot_sources_and_the_clients_on_1433(aws, network, app_group):
    # The bot runs from a security group (an ECS task's, say) and from one host; clients from an office network.
    bot_group = aws.ec2.create_security_group(GroupName="bot", Description="rdsbot task", VpcId=vpc_of(aws, app_group))
    spec = NetworkSpec(bot_sources=(bot_group["GroupId"], BOT_HOST), allowed_cidrs=(OFFICE,))

    placement = network.ensure_placement(spec)

    rules = ingress(aws, placement.security_group_id)
    assert sorted(sources(rules)) == sorted({bot_group["GroupId"], BOT_HOST, OFFICE})
    assert all((r["IpProtocol"], r["FromPort"], r["ToPort"]) == ("tcp", 1433, 1433) for r in rules)
    # moto echoes the description of CIDR rules only.
    described = {r["CidrIpv4"]: r.get("Description") for r in rules if r.get("CidrIpv4")}
    assert described == {BOT_HOST: "rdsbot: the bot itself (network.bot_sources)", OFFICE: "rdsbot: SQL Server client"}


def test_an_existing_group_is_brought_to_exactly_the_bot_and_client_sources(aws, network, app_group):
    group_id = network.ensure_placement(NetworkSpec(allowed_source_security_groups=(app_group,))).security_group_id
    aws.ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 1433, "ToPort": 1433, "IpRanges": [{"CidrIp": OFFICE}]}],
    )

    network.ensure_placement(NetworkSpec(bot_sources=(BOT_HOST,), allowed_source_security_groups=(app_group,)))

    assert sources(ingress(aws, group_id)) == {BOT_HOST, app_group}


def test_an_open_bot_source_is_refused_before_anything_is_created(aws, network):
    calls = CallRecorder(aws)

    with pytest.raises(StageError, match=r"network\.bot_sources: 0\.0\.0\.0/0 would admit every client"):
        network.ensure_placement(NetworkSpec(bot_sources=("0.0.0.0/0",)))

    assert calls.calls == []


def vpc_of(aws: AwsClients, group_id: str) -> str:
    vpc: str = aws.ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]["VpcId"]
    return vpc


def test_open_ingress_added_by_hand_is_revoked_on_the_next_ensure(aws, network):
    spec = NetworkSpec(allowed_cidrs=(OFFICE,))
    group_id = network.ensure_placement(spec).security_group_id
    aws.ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 1433, "ToPort": 1433, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": OFFICE}]},
        ],
    )

    again = network.ensure_placement(spec)

    assert again.security_group_id == group_id
    assert again.created == ()
    rules = ingress(aws, group_id)
    assert [(r["CidrIpv4"], r["FromPort"]) for r in rules] == [(OFFICE, 1433)]


def test_second_ensure_reuses_everything_and_changes_nothing(aws, network):
    spec = NetworkSpec(allowed_cidrs=(OFFICE,))
    first = network.ensure_placement(spec)
    calls = CallRecorder(aws)

    second = network.ensure_placement(spec)

    assert calls.mutating == []
    assert second.created == ()
    assert (second.subnet_group_name, second.security_group_id) == (first.subnet_group_name, first.security_group_id)


def test_existing_group_of_that_name_is_reused_and_closed(aws, network):
    vpc = aws.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    made_by_hand = aws.ec2.create_security_group(GroupName=security_group_name(vpc), Description="x", VpcId=vpc)
    aws.ec2.authorize_security_group_ingress(
        GroupId=made_by_hand["GroupId"],
        IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )

    placement = network.ensure_placement(NetworkSpec(allowed_cidrs=(OFFICE,)))

    assert placement.security_group_id == made_by_hand["GroupId"]
    assert "security_group" not in placement.created
    assert sources(ingress(aws, placement.security_group_id)) == {OFFICE}


def test_created_network_resources_are_tagged_managed_by_rdsbot(aws, network):
    placement = network.ensure_placement(NetworkSpec(allowed_cidrs=(OFFICE,)))

    group = aws.ec2.describe_security_groups(GroupIds=[placement.security_group_id])["SecurityGroups"][0]
    assert {"Key": "managed-by", "Value": "rdsbot"} in group["Tags"]
    subnet_group = aws.rds.describe_db_subnet_groups(DBSubnetGroupName=placement.subnet_group_name)
    arn = subnet_group["DBSubnetGroups"][0]["DBSubnetGroupArn"]
    assert {"Key": "managed-by", "Value": "rdsbot"} in aws.rds.list_tags_for_resource(ResourceName=arn)["TagList"]


def test_a_cidr_open_to_the_internet_is_refused_before_anything_is_created(aws, network):
    calls = CallRecorder(aws)

    with pytest.raises(StageError, match="every client on the internet"):
        network.ensure_placement(NetworkSpec(allowed_cidrs=("0.0.0.0/0",)))

    assert calls.calls == []


def test_explicit_vpc_and_subnets_are_used(aws, network):
    vpc = aws.ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        aws.ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for cidr, zone in (("10.50.1.0/24", "us-east-1a"), ("10.50.2.0/24", "us-east-1b"))
    ]

    placement = network.ensure_placement(NetworkSpec(vpc_id=vpc, subnet_ids=tuple(subnets), allowed_cidrs=(OFFICE,)))

    assert placement.subnet_group_name == subnet_group_name(vpc)
    group = aws.rds.describe_db_subnet_groups(DBSubnetGroupName=placement.subnet_group_name)["DBSubnetGroups"][0]
    assert {s["SubnetIdentifier"] for s in group["Subnets"]} == set(subnets)


def test_subnets_in_a_single_zone_are_refused_with_a_clear_reason(aws, network):
    vpc = aws.ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    subnets = tuple(
        aws.ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
        for cidr in ("10.60.1.0/24", "10.60.2.0/24")
    )

    with pytest.raises(StageError, match=r"at least two availability zones.*only in us-east-1a"):
        network.ensure_placement(NetworkSpec(vpc_id=vpc, subnet_ids=subnets))


def test_custom_vpc_without_listed_subnets_asks_for_them(aws, network):
    vpc = aws.ec2.create_vpc(CidrBlock="10.70.0.0/16")["Vpc"]["VpcId"]

    with pytest.raises(StageError, match=r"network\.subnet_ids"):
        network.ensure_placement(NetworkSpec(vpc_id=vpc))


def test_unknown_vpc_is_named(network):
    with pytest.raises(StageError, match="VPC vpc-0000000000 does not exist"):
        network.ensure_placement(NetworkSpec(vpc_id="vpc-0000000000"))
