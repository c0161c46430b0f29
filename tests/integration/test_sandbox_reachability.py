"""The sandbox SQL Server sees the network as the instance's security groups on the moto server describe it: a
source they do not admit on 1433 times out, as a blocked port does (AWS VPC user guide, "Security group rules")."""

from __future__ import annotations

import time

import pytest

from aws.clients import AwsClients
from aws.instances import instance_state
from aws.network import Network
from aws.sandbox.sql_server import SandboxSqlServer, SecurityGroupReachability
from bot.domain import InstanceState
from bot.ports import NetworkSpec

BOT_HOST = "10.0.0.10/32"


def instance_behind(aws: AwsClients, spec: NetworkSpec) -> InstanceState:
    """A moto instance in the security group rdsbot's network stage makes for `spec`."""
    placement = Network(aws.ec2, aws.rds).ensure_placement(spec)
    raw = aws.rds.create_db_instance(
        DBInstanceIdentifier="restore-prod",
        DBInstanceClass="db.m5.large",
        Engine="sqlserver-se",
        LicenseModel="license-included",
        MasterUsername="rdsadmin_restore",
        ManageMasterUserPassword=True,
        AllocatedStorage=100,
        DBSubnetGroupName=placement.subnet_group_name,
        VpcSecurityGroupIds=[placement.security_group_id],
    )["DBInstance"]
    return instance_state(raw)


def reachability(aws: AwsClients, source: str | None) -> SecurityGroupReachability:
    return SecurityGroupReachability(aws.rds, aws.ec2, source, blocked_seconds=0.05)


def test_the_bot_source_the_group_admits_connects(aws):
    instance = instance_behind(aws, NetworkSpec(bot_sources=(BOT_HOST,)))
    server = SandboxSqlServer(reachable=reachability(aws, BOT_HOST).check)

    assert server.connect(instance).autocommit is True


def test_a_source_the_group_does_not_admit_times_out_after_a_delay(aws):
    instance = instance_behind(aws, NetworkSpec(bot_sources=(BOT_HOST,), allowed_cidrs=("10.20.0.0/16",)))
    server = SandboxSqlServer(reachable=reachability(aws, "192.0.2.7/32").check)

    began = time.monotonic()
    with pytest.raises(TimeoutError, match=":1433"):
        server.connect(instance)
    assert time.monotonic() - began >= 0.05


def test_a_group_admitting_only_clients_blocks_the_bot_too(aws):
    instance = instance_behind(aws, NetworkSpec(allowed_cidrs=("10.20.0.0/16",)))

    with pytest.raises(TimeoutError):
        reachability(aws, BOT_HOST).check(instance)


def test_no_configured_bot_source_reaches_nothing(aws):
    instance = instance_behind(aws, NetworkSpec(bot_sources=(BOT_HOST,)))

    with pytest.raises(TimeoutError):
        reachability(aws, None).check(instance)


def test_a_bot_security_group_is_admitted_by_a_rule_naming_it(aws):
    vpc = aws.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    bot_group = aws.ec2.create_security_group(GroupName="bot", Description="rdsbot task", VpcId=vpc)["GroupId"]
    other = aws.ec2.create_security_group(GroupName="other", Description="someone else", VpcId=vpc)["GroupId"]
    instance = instance_behind(aws, NetworkSpec(bot_sources=(bot_group,)))

    reachability(aws, bot_group).check(instance)
    with pytest.raises(TimeoutError):
        reachability(aws, other).check(instance)


def test_a_bot_network_is_admitted_only_inside_an_admitted_network(aws):
    instance = instance_behind(aws, NetworkSpec(bot_sources=("10.0.0.0/24",)))

    reachability(aws, "10.0.0.10/32").check(instance)
    with pytest.raises(TimeoutError):
        reachability(aws, "10.0.0.0/16").check(instance)


def test_a_rule_on_another_port_does_not_open_1433(aws):
    instance = instance_behind(aws, NetworkSpec())
    group_id = instance.security_group_ids[0]
    aws.ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": BOT_HOST}]}],
    )

    with pytest.raises(TimeoutError):
        reachability(aws, BOT_HOST).check(instance)
