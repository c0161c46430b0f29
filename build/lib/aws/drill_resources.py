"""What cleaning up after a drill needs from AWS: who uses which shared resource, and deleting them."""

from __future__ import annotations

import logging
from typing import Any

from aws.errors import aws_call, is_not_found
from bot.errors import AwsError
from bot.ports import InstanceUse

log = logging.getLogger(__name__)


def instance_use(raw: dict[str, Any]) -> InstanceUse:
    """One DescribeDBInstances entry as the resources it holds."""
    return InstanceUse(
        instance_id=raw["DBInstanceIdentifier"],
        status=raw.get("DBInstanceStatus", ""),
        option_groups=tuple(m["OptionGroupName"] for m in raw.get("OptionGroupMemberships", [])),
        subnet_group=(raw.get("DBSubnetGroup") or {}).get("DBSubnetGroupName"),
        security_groups=tuple(g["VpcSecurityGroupId"] for g in raw.get("VpcSecurityGroups", [])),
        tags={t["Key"]: t["Value"] for t in raw.get("TagList", [])},
        created_at=raw.get("InstanceCreateTime"),
    )


class DrillCleanupGateway:
    """DrillResources over RDS and EC2."""

    def __init__(self, rds: Any, ec2: Any) -> None:
        self._rds = rds
        self._ec2 = ec2

    def instances(self) -> list[InstanceUse]:
        """Every RDS instance in the region (DescribeDBInstances has no tag filter, so tags are read here)."""
        found: list[InstanceUse] = []
        with aws_call("DescribeDBInstances"):
            for page in self._rds.get_paginator("describe_db_instances").paginate():
                found.extend(instance_use(raw) for raw in page["DBInstances"])
        return found

    def option_group_exists(self, name: str) -> bool:
        try:
            with aws_call("DescribeOptionGroups"):
                groups = self._rds.describe_option_groups(OptionGroupName=name)["OptionGroupsList"]
        except AwsError as exc:
            if is_not_found(exc):
                return False
            raise
        return bool(groups)

    def delete_option_group(self, name: str) -> None:
        """Gone already counts as done; "in use" (snapshots still refer to it) raises, to retry later."""
        self._gone_is_done("DeleteOptionGroup", lambda: self._rds.delete_option_group(OptionGroupName=name))
        log.info("deleted option group %s", name)

    def delete_subnet_group(self, name: str) -> None:
        self._gone_is_done("DeleteDBSubnetGroup", lambda: self._rds.delete_db_subnet_group(DBSubnetGroupName=name))
        log.info("deleted DB subnet group %s", name)

    def delete_security_group(self, group_id: str) -> None:
        self._gone_is_done("DeleteSecurityGroup", lambda: self._ec2.delete_security_group(GroupId=group_id))
        log.info("deleted security group %s", group_id)

    @staticmethod
    def _gone_is_done(operation: str, call: Any) -> None:
        try:
            with aws_call(operation):
                call()
        except AwsError as exc:
            if not is_not_found(exc):
                raise
