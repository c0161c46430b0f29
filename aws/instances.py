"""RDS for SQL Server instances that backups are restored onto: create, describe (many at once), delete."""

from __future__ import annotations

import logging
from typing import Any

from aws.errors import aws_call, is_not_found
from bot import tags as rdsbot_tags
from bot.domain import InstanceState
from bot.errors import AwsError, StageError
from bot.orderable import OrderableOptions
from bot.ports import InstanceSpec

log = logging.getLogger(__name__)

_FILTER_CHUNK = 100  # DescribeDBInstances takes at most 100 values in one filter
# The largest page DescribeOrderableDBInstanceOptions gives: an engine lists thousands of options (class x version x
# storage type x Multi-AZ), which the default 100 a page would take dozens of calls to read.
ORDERABLE_PAGE = 1000
# While an option group change is under way RDS lists the outgoing group too; it is not the instance's group.
_LEAVING = {"removing", "pending-removal"}


def instance_state(raw: dict[str, Any]) -> InstanceState:
    """Our view of one DescribeDBInstances entry."""
    memberships = [m for m in raw.get("OptionGroupMemberships", []) if m.get("Status") not in _LEAVING]
    membership = memberships[0] if memberships else {}
    endpoint = raw.get("Endpoint") or {}
    return InstanceState(
        instance_id=raw["DBInstanceIdentifier"],
        status=raw["DBInstanceStatus"],
        instance_class=raw["DBInstanceClass"],
        option_group_name=membership.get("OptionGroupName"),
        option_group_status=membership.get("Status"),
        endpoint_address=endpoint.get("Address"),
        endpoint_port=endpoint.get("Port"),
        master_secret_arn=(raw.get("MasterUserSecret") or {}).get("SecretArn"),
        arn=raw.get("DBInstanceArn"),
        tags={t["Key"]: t["Value"] for t in raw.get("TagList", [])},
        security_group_ids=tuple(g["VpcSecurityGroupId"] for g in raw.get("VpcSecurityGroups", [])),
        engine=raw.get("Engine"),
        engine_version=raw.get("EngineVersion"),
        multi_az=bool(raw.get("MultiAZ", False)),
    )


def create_arguments(spec: InstanceSpec) -> dict[str, Any]:
    """The CreateDBInstance parameters for `spec`; optional ones only when set."""
    tags = {**spec.tags, **rdsbot_tags.MANAGED}
    args: dict[str, Any] = {
        "DBInstanceIdentifier": spec.instance_id,
        "DBInstanceClass": spec.instance_class,
        "Engine": spec.engine,
        # Always sent: without it RDS runs the engine's default version, maybe not the option group's major.
        "EngineVersion": spec.engine_version,
        "LicenseModel": spec.license_model,
        "MasterUsername": spec.master_username,
        # RDS keeps the password in Secrets Manager; rdsbot never sees one it made up.
        "ManageMasterUserPassword": True,
        "StorageType": spec.storage_type,
        "AllocatedStorage": spec.allocated_storage_gb,
        "DBSubnetGroupName": spec.subnet_group_name,
        "VpcSecurityGroupIds": list(spec.security_group_ids),
        "OptionGroupName": spec.option_group_name,
        "MultiAZ": spec.multi_az,
        "PubliclyAccessible": False,
        "StorageEncrypted": True,
        "CopyTagsToSnapshot": True,
        "Tags": rdsbot_tags.aws_tag_list(tags),
    }
    optional = {
        "Iops": spec.iops,
        "StorageThroughput": spec.storage_throughput,
        "KmsKeyId": spec.kms_key_id,
    }
    args.update({k: v for k, v in optional.items() if v is not None})
    features = [("coreCount", spec.cores), ("threadsPerCore", spec.threads_per_core)]
    if any(value is not None for _, value in features):
        args["ProcessorFeatures"] = [{"Name": n, "Value": str(v)} for n, v in features if v is not None]
    return args


def delete_arguments(instance_id: str, final_snapshot_id: str | None) -> dict[str, Any]:
    """DeleteDBInstance parameters. AWS API reference 'API_DeleteDBInstance': SkipFinalSnapshot defaults to false,
    and then FinalDBSnapshotIdentifier is required; naming one while skipping is an error. So exactly one of the two.
    The snapshot carries the instance's tags (CopyTagsToSnapshot), managed-by and the job id included."""
    args: dict[str, Any] = {"DBInstanceIdentifier": instance_id, "DeleteAutomatedBackups": True}
    if final_snapshot_id is None:
        args["SkipFinalSnapshot"] = True
    else:
        args["SkipFinalSnapshot"] = False
        args["FinalDBSnapshotIdentifier"] = final_snapshot_id
    return args


class Instances:
    """InstanceGateway over RDS."""

    def __init__(self, rds: Any) -> None:
        self._rds = rds

    def find(self, instance_id: str) -> InstanceState | None:
        """The instance, or None when there is none by that id."""
        try:
            with aws_call("DescribeDBInstances"):
                found = self._rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"]
        except AwsError as exc:
            if is_not_found(exc):
                return None
            raise
        return instance_state(found[0]) if found else None

    def create(self, spec: InstanceSpec) -> InstanceState:
        """Start creating the instance; an instance already there with this job's tags is returned as is."""
        try:
            with aws_call("CreateDBInstance"):
                raw = self._rds.create_db_instance(**create_arguments(spec))["DBInstance"]
        except AwsError as exc:
            if exc.code != "DBInstanceAlreadyExists":
                raise
            existing = self.find(spec.instance_id)
            if existing is None:  # deleted between the two calls
                raise
            return self._adopt(existing, spec)
        log.info("creating RDS instance %s (%s)", spec.instance_id, spec.instance_class)
        return instance_state(raw)

    def describe_many(self, instance_ids: list[str]) -> dict[str, InstanceState]:
        """One DescribeDBInstances call for all the ids (missing ids are absent from the result)."""
        states: dict[str, InstanceState] = {}
        ids = list(dict.fromkeys(instance_ids))
        paginator = self._rds.get_paginator("describe_db_instances")
        for start in range(0, len(ids), _FILTER_CHUNK):
            chunk = ids[start : start + _FILTER_CHUNK]
            with aws_call("DescribeDBInstances"):
                for page in paginator.paginate(Filters=[{"Name": "db-instance-id", "Values": chunk}]):
                    for raw in page["DBInstances"]:
                        state = instance_state(raw)
                        states[state.instance_id] = state
        return states

    def orderable_options(
        self, engine: str, *, engine_version: str | None = None, instance_class: str | None = None
    ) -> OrderableOptions:
        """Every (class, version) pair RDS can order for the engine here, of one version or class when given, in one
        paged listing (API reference "API_DescribeOrderableDBInstanceOptions": Engine, the EngineVersion and
        DBInstanceClass filters, answers paged by Marker, MaxRecords "Minimum 20, maximum 1000", default 100)."""
        args: dict[str, Any] = {"Engine": engine, "MaxRecords": ORDERABLE_PAGE}
        if engine_version:
            args["EngineVersion"] = engine_version
        if instance_class:
            args["DBInstanceClass"] = instance_class
        pairs: set[tuple[str, str]] = set()
        paginator = self._rds.get_paginator("describe_orderable_db_instance_options")
        with aws_call("DescribeOrderableDBInstanceOptions"):
            for page in paginator.paginate(**args):
                pairs.update((o["DBInstanceClass"], o["EngineVersion"]) for o in page["OrderableDBInstanceOptions"])
        return OrderableOptions(engine, frozenset(pairs), engine_version, instance_class)

    def delete(self, instance_id: str, final_snapshot_id: str | None = None) -> None:
        """Delete the instance, first taking a final snapshot named `final_snapshot_id` when given; nothing to do
        when it is gone or already going."""
        try:
            with aws_call("DeleteDBInstance"):
                self._rds.delete_db_instance(**delete_arguments(instance_id, final_snapshot_id))
        except AwsError as exc:
            if is_not_found(exc):
                return
            if exc.code == "InvalidDBInstanceState":
                current = self.find(instance_id)
                if current is None or current.status == "deleting":
                    return
            raise
        log.info("deleting RDS instance %s", instance_id)

    def apply_option_group(self, instance_id: str, option_group: str) -> None:
        """Give the instance `option_group` now (API reference "API_ModifyDBInstance": OptionGroupName, applied at
        once with ApplyImmediately, else in the next maintenance window; no outage for SQL Server options)."""
        with aws_call("ModifyDBInstance"):
            self._rds.modify_db_instance(
                DBInstanceIdentifier=instance_id, OptionGroupName=option_group, ApplyImmediately=True
            )
        log.info("applying option group %s to %s", option_group, instance_id)

    def _adopt(self, existing: InstanceState, spec: InstanceSpec) -> InstanceState:
        # Our own earlier attempt (a resumed job) is adopted; anything else is not ours to restore onto.
        job_id = spec.tags.get(rdsbot_tags.JOB_ID, "")
        if not rdsbot_tags.made_by_job(existing.tags, job_id):
            raise StageError(f"{rdsbot_tags.not_made_by_job(spec.instance_id, job_id)}; choose another --name")
        return existing
