"""Whether the bot's connection reaches an emulated instance's port: read from the instance's VPC security groups as
the AWS endpoint holds them, so a group that does not admit the bot blocks the sandbox as it blocks RDS.

Modelled on the AWS VPC user guide, "Security group rules": only allow rules exist, a group admits nothing until a
rule is added, the rules of all groups on a resource add up, and a rule's source is a CIDR or a security group
(whose members it admits). A blocked port drops the packets, so the client sees its connect time out: no refusal,
no reason, just a delay (the sandbox waits `blocked_seconds`, then raises TimeoutError as a socket would).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from typing import Any

import boto3

from bot.domain import InstanceState

SQL_SERVER_PORT = 1433


class SecurityGroupReachability:
    """The network between the bot at `source` (a security group id or an address/CIDR) and the instances."""

    def __init__(
        self,
        rds: Any,
        ec2: Any,
        source: str | None,
        *,
        blocked_seconds: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rds = rds
        self._ec2 = ec2
        self._source = source
        self.blocked_seconds = blocked_seconds
        self._sleep = sleep

    @classmethod
    def in_region(cls, region: str, source: str | None) -> SecurityGroupReachability:
        """Read through clients of its own: the network's look-ups are not the bot's calls (nor in its counts).

        A fresh session, not boto3's default one: the default caches the first credentials it found, and the bot's
        own may have changed since (tests/integration/test_restore_as_least_privileged_user.py)."""
        session = boto3.Session()
        return cls(session.client("rds", region_name=region), session.client("ec2", region_name=region), source)

    def check(self, instance: InstanceState) -> None:
        """Return when `source` reaches the instance's port; else wait, then raise TimeoutError like a socket."""
        port = instance.endpoint_port or SQL_SERVER_PORT
        if self._source is not None and any(
            _admits(permission, self._source, port) for permission in self._ingress(instance.instance_id)
        ):
            return
        self._sleep(self.blocked_seconds)
        raise TimeoutError(f"timed out connecting to {instance.endpoint_address}:{port}")

    def _ingress(self, instance_id: str) -> list[dict[str, Any]]:
        found = self._rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"]
        group_ids = [g["VpcSecurityGroupId"] for g in found[0].get("VpcSecurityGroups", [])] if found else []
        if not group_ids:
            return []
        groups = self._ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"]
        return [permission for group in groups for permission in group.get("IpPermissions", [])]


def _admits(permission: dict[str, Any], source: str, port: int) -> bool:
    """One inbound permission admits `source` on tcp/`port`."""
    protocol = str(permission.get("IpProtocol"))
    if protocol == "-1":  # every protocol and port
        on_port = True
    elif protocol in ("tcp", "6"):
        on_port = permission.get("FromPort", 0) <= port <= permission.get("ToPort", 65535)
    else:
        on_port = False
    if not on_port:
        return False
    if source.startswith("sg-"):
        return any(pair.get("GroupId") == source for pair in permission.get("UserIdGroupPairs", []))
    network = ipaddress.ip_network(source, strict=False)
    ranges = [r["CidrIp"] for r in permission.get("IpRanges", [])] + [
        r["CidrIpv6"] for r in permission.get("Ipv6Ranges", [])
    ]
    # The bot's whole network must be inside the admitted one: a /24 rule admits a /32 bot, not the reverse.
    for cidr in ranges:
        admitted = ipaddress.ip_network(cidr, strict=False)
        if network.version == admitted.version and network.subnet_of(admitted):  # type: ignore[arg-type]
            return True
    return False
