"""What the emulated RDS SQL Server sees of AWS when a task starts: the backup objects a restore ARN matches (and
their sizes), the bucket's region, whether a KMS key exists, the instance's engine; and where a backup task writes.

RDS itself checks these (AWS guide "SQLServer.Procedural.Importing", limitations and troubleshooting): at most 10
files, a bucket in the instance's region, "Key <ARN> does not exist", Express at most 10 GB per database.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Protocol

import boto3

from aws.sandbox.sql_server import role_policies
from bot.domain import InstanceState
from bot.role_needs import RoleNeeds, role_path_and_name


def bucket_and_key(s3_arn: str) -> tuple[str, str]:
    """arn:aws:s3:::bucket/key -> (bucket, key), for any partition."""
    _, _, rest = s3_arn.partition(":s3:::")
    bucket, _, key = rest.partition("/")
    return bucket, key


def instance_region(instance: InstanceState) -> str | None:
    """The region in the instance's ARN, or None when it has none (unit tests)."""
    parts = (instance.arn or "").split(":")
    return parts[3] if len(parts) > 3 and parts[3] else None


class AwsView(Protocol):
    def matched_objects(self, s3_arn: str) -> list[tuple[str, int]]:
        """(key, bytes) of the objects a restore ARN names: the key itself, or every key under `prefix*`."""
        ...

    def bucket_region(self, bucket: str) -> str | None: ...

    def kms_key_problem(self, key_arn: str) -> str | None:
        """The task_info a key RDS cannot use fails the task with; None when the key is usable."""
        ...

    def engine(self, instance: InstanceState) -> str | None: ...

    def backup_restore_enabled(self, instance: InstanceState) -> bool:
        """The instance's option group carries SQLSERVER_BACKUP_RESTORE (AWS guide
        "SQLServer.Procedural.Importing.Native.Enabling": without it the rds_ backup and restore procedures fail)."""
        ...

    def object_exists(self, bucket: str, key: str) -> bool: ...

    def put_object(self, bucket: str, key: str, body: bytes) -> None: ...

    def object_metadata(self, bucket: str, key: str) -> dict[str, str] | None:
        """The object's user metadata (without x-amz-meta-), or None when there is no such object."""
        ...

    def object_body(self, bucket: str, key: str) -> bytes | None: ...

    def option_names(self, instance: InstanceState) -> set[str]:
        """The options of the instance's option group, as DescribeOptionGroups lists them."""
        ...

    def role_lacks(self, instance: InstanceState, needs: RoleNeeds) -> list[str]:
        """What the role of the instance's SQLSERVER_BACKUP_RESTORE option may not do of `needs` ("action on
        resource" each): RDS reads and decrypts as that role. Empty when it may do all, or cannot be read."""
        ...


@dataclass
class MemoryAwsView:
    """An AWS of plain dicts for unit tests: nothing unless a test puts it there; engines and regions optional."""

    objects: dict[str, int] = field(default_factory=dict)  # "bucket/key" -> bytes
    bodies: dict[str, bytes] = field(default_factory=dict)
    regions: dict[str, str] = field(default_factory=dict)
    key_problems: dict[str, str] = field(default_factory=dict)
    engines: dict[str, str] = field(default_factory=dict)  # instance id -> engine
    without_backup_restore: set[str] = field(default_factory=set)  # instance ids whose group lacks the option
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)  # "bucket/key" -> user metadata
    options: dict[str, set[str]] = field(default_factory=dict)  # option group -> its options
    role_gaps: dict[str, list[str]] = field(default_factory=dict)  # option group -> what its role may not do

    def matched_objects(self, s3_arn: str) -> list[tuple[str, int]]:
        bucket, key = bucket_and_key(s3_arn)
        prefix = f"{bucket}/{key.removesuffix('*')}"
        found = [
            (k, n) for k, n in self.objects.items() if (k.startswith(prefix) if key.endswith("*") else k == prefix)
        ]
        return [(k.partition("/")[2], n) for k, n in sorted(found)]

    def bucket_region(self, bucket: str) -> str | None:
        return self.regions.get(bucket)

    def kms_key_problem(self, key_arn: str) -> str | None:
        return self.key_problems.get(key_arn)

    def engine(self, instance: InstanceState) -> str | None:
        return self.engines.get(instance.instance_id)

    def backup_restore_enabled(self, instance: InstanceState) -> bool:
        return instance.instance_id not in self.without_backup_restore

    def object_exists(self, bucket: str, key: str) -> bool:
        return f"{bucket}/{key}" in self.objects

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        self.objects[f"{bucket}/{key}"] = len(body)
        self.bodies[f"{bucket}/{key}"] = body

    def object_metadata(self, bucket: str, key: str) -> dict[str, str] | None:
        if f"{bucket}/{key}" not in self.objects:
            return None
        return dict(self.metadata.get(f"{bucket}/{key}", {}))

    def object_body(self, bucket: str, key: str) -> bytes | None:
        return self.bodies.get(f"{bucket}/{key}")

    def option_names(self, instance: InstanceState) -> set[str]:
        return set(self.options.get(instance.option_group_name or "", set()))

    def role_lacks(self, instance: InstanceState, needs: RoleNeeds) -> list[str]:
        # Only the gaps among what was asked: a test then fails if the emulator asks for the wrong objects.
        asked = {f"{a} on {r}" for actions, on in needs.resources().items() for a in actions for r in on}
        return [gap for gap in self.role_gaps.get(instance.option_group_name or "", []) if gap in asked]


SERVICE_KEY_ID = "RDSBOT_SANDBOX_RDS_ACCESS_KEY_ID"
SERVICE_SECRET = "RDSBOT_SANDBOX_RDS_SECRET_ACCESS_KEY"


class EndpointAwsView:
    """The AWS endpoint the bot uses (moto in the sandbox), read and written through clients of the emulator's own,
    so its look-ups and writes are not counted as the bot's calls."""

    def __init__(self, region: str) -> None:
        # RDS is a principal of its own: it writes a backup as the option group's role, not as the bot. A test that
        # lets moto enforce IAM on the bot's user names another principal for the emulated RDS here.
        key_id = os.environ.get(SERVICE_KEY_ID)
        secret = os.environ.get(SERVICE_SECRET)
        session = (
            boto3.Session(aws_access_key_id=key_id, aws_secret_access_key=secret)
            if key_id and secret
            else boto3.Session()
        )
        self._s3: Any = session.client("s3", region_name=region)
        self._kms: Any = session.client("kms", region_name=region)
        self._rds: Any = session.client("rds", region_name=region)
        self._iam: Any = session.client("iam", region_name=region)

    def matched_objects(self, s3_arn: str) -> list[tuple[str, int]]:
        bucket, key = bucket_and_key(s3_arn)
        prefix = key.removesuffix("*")
        try:
            listed = self._s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=100)
        except Exception:  # a missing bucket matches nothing; the task fails on the missing object
            return []
        found = [(obj["Key"], int(obj["Size"])) for obj in listed.get("Contents", [])]
        return sorted(found) if key.endswith("*") else [(k, n) for k, n in found if k == key]

    def bucket_region(self, bucket: str) -> str | None:
        try:
            location = self._s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
        except Exception:
            return None
        return str(location or "us-east-1")

    def kms_key_problem(self, key_arn: str) -> str | None:
        try:
            metadata = self._kms.describe_key(KeyId=key_arn)["KeyMetadata"]
        except Exception:
            return f"Key {key_arn} does not exist"
        if metadata.get("KeyState") != "Enabled":
            return f"Key {key_arn} is {metadata.get('KeyState')}"
        return None

    def engine(self, instance: InstanceState) -> str | None:
        try:
            found = self._rds.describe_db_instances(DBInstanceIdentifier=instance.instance_id)["DBInstances"]
        except Exception:
            return None
        return str(found[0]["Engine"]) if found else None

    def backup_restore_enabled(self, instance: InstanceState) -> bool:
        # A default group (moto lists none) carries no options.
        return "SQLSERVER_BACKUP_RESTORE" in self.option_names(instance)

    def object_exists(self, bucket: str, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=bucket, Key=key)
        except Exception:
            return False
        return True

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        self._s3.put_object(Bucket=bucket, Key=key, Body=body)

    def object_metadata(self, bucket: str, key: str) -> dict[str, str] | None:
        try:
            return dict(self._s3.head_object(Bucket=bucket, Key=key).get("Metadata", {}))
        except Exception:
            return None

    def object_body(self, bucket: str, key: str) -> bytes | None:
        try:
            return bytes(self._s3.get_object(Bucket=bucket, Key=key, Range="bytes=0-4095")["Body"].read())
        except Exception:
            return None

    def option_names(self, instance: InstanceState) -> set[str]:
        return {o["OptionName"] for o in self._options(instance)}

    def role_lacks(self, instance: InstanceState, needs: RoleNeeds) -> list[str]:
        settings = [
            s
            for o in self._options(instance)
            if o["OptionName"] == "SQLSERVER_BACKUP_RESTORE"
            for s in o.get("OptionSettings", [])
            if s.get("Name") == "IAM_ROLE_ARN" and s.get("Value")
        ]
        if not settings:
            return ["anything: SQLSERVER_BACKUP_RESTORE names no IAM_ROLE_ARN"]
        try:
            documents = role_policies.role_documents(self._iam, role_path_and_name(settings[0]["Value"])[1])
        except Exception:  # a principal that may not read IAM (tests enforcing it): nothing to judge by
            return []
        return role_policies.lacks(documents, needs)

    def _options(self, instance: InstanceState) -> list[dict[str, Any]]:
        if not instance.option_group_name:
            return []
        try:
            groups = self._rds.describe_option_groups(OptionGroupName=instance.option_group_name)
        except Exception:
            return []
        return [o for g in groups["OptionGroupsList"] for o in g.get("Options", [])]
