"""The YAML policy: regions, buckets, approvals, network and engine defaults. Validated once, at start."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from bot import instance_classes, keep_window
from bot.domain import Edition, StorageType
from bot.drills.spec import DrillSpec
from bot.errors import ConfigError, RequestError
from bot.strict_model import StrictModel
from config.approvals_policy import ApprovalPolicy, adopt_deprecated_replace_approvers

# Re-exported (the `as` form tells mypy so): callers take every policy section from here.
from config.audit_policy import (
    AuditPolicy as AuditPolicy,
    ObjectLockPolicy as ObjectLockPolicy,
    ServerAuditPolicy as ServerAuditPolicy,
)
from config.targets_policy import TargetsPolicy

EXAMPLE_POLICY = Path(__file__).with_name("rdsbot.example.yaml")
_REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d")


class RegionPolicy(StrictModel):
    default: str = "us-east-1"
    allowed: tuple[str, ...] = ("us-east-1",)

    @field_validator("default")
    @classmethod
    def _region_shape(cls, value: str) -> str:
        if not _REGION.fullmatch(value):
            raise ValueError(f"{value!r} is not an AWS region name such as us-east-1")
        return value

    @field_validator("allowed")
    @classmethod
    def _regions_shape(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if not values:
            raise ValueError("list at least one region")
        for value in values:
            cls._region_shape(value)
        return values

    def or_default(self, region: str | None) -> str:
        """The region a request or a drill names, else the default (whether it is allowed is the caller's rule)."""
        return region or self.default

    @model_validator(mode="after")
    def _default_is_allowed(self) -> RegionPolicy:
        if self.default not in self.allowed:
            raise ValueError(f"default region {self.default} is not in allowed {list(self.allowed)}")
        return self


# Where /rds-backup may write when the policy lists no backups.allowed_destinations.
DEFAULT_DESTINATION_PREFIX = "rdsbot-copies/"
_DESTINATION_PATTERN = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[^*\s]*\*?")


class BackupPolicy(StrictModel):
    default_bucket: str
    allowed_buckets: tuple[str, ...] = ()
    # /rds-backup destinations, `s3://bucket/prefix*` (a trailing `*` matches any key under the prefix; without it
    # the one key). Empty: s3://<default_bucket>/rdsbot-copies/*.
    allowed_destinations: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _default_is_allowed(self) -> BackupPolicy:
        if self.allowed_buckets and self.default_bucket not in self.allowed_buckets:
            raise ValueError(f"default_bucket {self.default_bucket} is not in allowed_buckets")
        for pattern in self.allowed_destinations:
            if not _DESTINATION_PATTERN.fullmatch(pattern):
                raise ValueError(
                    f"allowed_destinations: {pattern!r} is not s3://bucket/prefix* (one `*`, only at the end)"
                )
            bucket = pattern.removeprefix("s3://").split("/", 1)[0]
            if bucket not in self.buckets:
                # A backup rdsbot could not read back (its role and IAM policy cover the backup buckets) would be
                # no round trip; and the bot's own HeadObject of the destination needs the same grants.
                raise ValueError(
                    f"allowed_destinations: {pattern} is not in a backup bucket ({', '.join(self.buckets)})"
                )
        return self

    @property
    def destinations(self) -> tuple[str, ...]:
        """The /rds-backup destination patterns in force: the policy's, or the default bucket's rdsbot-copies/."""
        return self.allowed_destinations or (f"s3://{self.default_bucket}/{DEFAULT_DESTINATION_PREFIX}*",)

    @property
    def buckets(self) -> tuple[str, ...]:
        return self.allowed_buckets or (self.default_bucket,)


class KmsPolicy(StrictModel):
    # Accounts whose KMS keys a restore may name or meet (--backup-kms-key, --storage-kms-key, the bucket's
    # SSE-KMS key). Empty: only the bot's own account, found with sts:GetCallerIdentity.
    allowed_accounts: tuple[str, ...] = ()

    @field_validator("allowed_accounts")
    @classmethod
    def _account_ids(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if not re.fullmatch(r"\d{12}", value):
                raise ValueError(f"{value!r} is not a 12-digit AWS account id")
        return values


# A whole managed-policy ARN (path and name), never a prefix of one. pydantic checks `pattern` with Rust regex,
# where `$` is the end of the text only, so a trailing newline is refused too.
_POLICY_ARN = r"^arn:aws[a-z-]*:iam::\d{12}:policy/([A-Za-z0-9+=,.@_-]+/)*[A-Za-z0-9+=,.@_-]+$"


class RolesPolicy(StrictModel):
    """Where rdsbot creates the IAM roles RDS assumes (restore, audit)."""

    # The bot's IAM policy lets it create and change only rdsbot-* roles right under this path (and legacy root
    # rdsbot-native-restore* roles): config/rdsbot-iam-policy.json, bot/role_needs.managed_role_arn_patterns.
    path: str = Field("/rdsbot/", pattern=r"^/([A-Za-z0-9+=,.@_-]+/)*$")
    # The policy ARN of config/rdsbot-role-boundary.json as created in your account; the shipped bot policy
    # allows CreateRole only with this boundary attached.
    permissions_boundary_arn: str | None = Field(None, pattern=_POLICY_ARN)


_SECURITY_GROUP_ID = re.compile(r"sg-[0-9a-f]{8,17}")


def closed_network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """`value` as a network; ValueError when it is none, or admits the whole internet (0.0.0.0/0, ::/0)."""
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"{value} is not an address or network such as 10.0.4.0/24") from None
    if network.prefixlen == 0:
        raise ValueError(f"{value} would admit every client on the internet; name the client networks")
    return network


def is_security_group_id(source: str) -> bool:
    """True for a security group id (sg-...), False for an address or network."""
    return bool(_SECURITY_GROUP_ID.fullmatch(source))


class NetworkPolicy(StrictModel):
    vpc_id: str | None = None
    subnet_ids: tuple[str, ...] = ()
    # Where rdsbot itself runs (its ECS task's security group, its host's address): it must log in on port 1433
    # to call msdb.dbo.rds_restore_database, so the instance's security group admits these too. Empty: every
    # restore is refused before approval, since the bot could not reach the instance it creates.
    bot_sources: tuple[str, ...] = ()
    allowed_source_security_groups: tuple[str, ...] = ()
    allowed_cidrs: tuple[str, ...] = ()
    # A network wider than these prefixes admits more than a site's clients to port 1433 (two /1 halves are the
    # whole internet): refused unless allow_wide_cidrs says it is meant.
    min_prefix_v4: int = Field(16, ge=1, le=32)
    min_prefix_v6: int = Field(48, ge=1, le=128)
    allow_wide_cidrs: bool = False

    @field_validator("allowed_cidrs")
    @classmethod
    def _no_open_cidr(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            closed_network(value)
        return values

    @field_validator("bot_sources")
    @classmethod
    def _group_or_closed_cidr(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if value.startswith("sg-") and not is_security_group_id(value):
                raise ValueError(f"{value} is not a security group id such as sg-0123456789abcdef0")
            if not is_security_group_id(value):
                closed_network(value)
        return values

    def min_prefix(self, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> int:
        """The widest prefix this policy takes for a network of that IP version."""
        return self.min_prefix_v4 if network.version == 4 else self.min_prefix_v6

    @model_validator(mode="after")
    def _no_wide_cidr(self) -> NetworkPolicy:
        if self.allow_wide_cidrs:
            return self
        named = [("allowed_cidrs", v) for v in self.allowed_cidrs]
        named += [("bot_sources", v) for v in self.bot_sources if not is_security_group_id(v)]
        for field, value in named:
            network = closed_network(value)
            widest = self.min_prefix(network)
            if network.prefixlen < widest:
                key = "min_prefix_v4" if network.version == 4 else "min_prefix_v6"
                raise ValueError(
                    f"{field}: {value} is wider than /{widest} (network.{key}): {network.num_addresses} addresses "
                    "could reach port 1433; name narrower networks, or set network.allow_wide_cidrs: true"
                )
        return self

    @model_validator(mode="after")
    def _subnets_need_vpc(self) -> NetworkPolicy:
        if self.subnet_ids and not self.vpc_id:
            raise ValueError("subnet_ids need vpc_id")
        if self.subnet_ids and len(self.subnet_ids) < 2:
            raise ValueError("a DB subnet group needs subnets in at least two availability zones")
        return self


class EnginePolicy(StrictModel):
    edition: Edition = Edition.STANDARD
    major_version: str = "15.00"
    engine_version: str | None = None  # None: the newest orderable minor of major_version, resolved per request
    license_model: str = "license-included"
    storage_type: StorageType = StorageType.GP3
    allocated_storage_gb: int = Field(100, ge=20, le=16384)
    master_username: str = "rdsadmin_restore"

    @field_validator("edition", mode="before")
    @classmethod
    def _short_edition(cls, value: Any) -> Any:
        try:
            return Edition.parse(value) if isinstance(value, str) else value
        except ValueError:
            raise ValueError(f"{value!r} is not a SQL Server edition; use ex, web, se or ee") from None

    @field_validator("major_version")
    @classmethod
    def _major_offered(cls, value: str) -> str:
        try:
            return instance_classes.check_major_version(value)
        except RequestError as exc:
            raise ValueError(f"{exc.message}; {exc.hint}") from None


class LifecyclePolicy(StrictModel):
    """How long restored instances live (drills have their own keep_minutes): see bot/keep_window.py."""

    # A restore without --keep is deleted this long after it completes; --keep may ask for up to max_keep.
    default_keep: timedelta = timedelta(hours=24)
    max_keep: timedelta = timedelta(days=7)
    # What the reminder's "keep more" button adds, never past max_keep after the restore completed.
    extend_by: timedelta = timedelta(hours=24)
    # Take a final DB snapshot (rdsbot-final-<job>) before deleting; its option group is then kept, since RDS
    # will not delete an option group a snapshot still refers to.
    final_snapshot: bool = True

    @field_validator("default_keep", "max_keep", "extend_by", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, timedelta):
            return value
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not a duration; {keep_window.KEEP_HINT.replace('--keep ', '')}")
        try:
            return keep_window.parse_duration(value)
        except RequestError as exc:
            raise ValueError(f"{exc.message}; {keep_window.KEEP_HINT.replace('--keep ', '')}") from None

    @model_validator(mode="after")
    def _default_within_max(self) -> LifecyclePolicy:
        if self.default_keep > self.max_keep:
            raise ValueError(
                f"default_keep {keep_window.format_duration(self.default_keep)} is longer than max_keep "
                f"{keep_window.format_duration(self.max_keep)}"
            )
        return self


class Policy(StrictModel):
    region: RegionPolicy = RegionPolicy()
    backups: BackupPolicy
    audit: AuditPolicy = AuditPolicy()
    kms: KmsPolicy = KmsPolicy()
    roles: RolesPolicy = RolesPolicy()
    approvals: ApprovalPolicy = ApprovalPolicy()
    network: NetworkPolicy = NetworkPolicy()
    engine: EnginePolicy = EnginePolicy()
    lifecycle: LifecyclePolicy = LifecyclePolicy()
    targets: TargetsPolicy = TargetsPolicy()
    drills: tuple[DrillSpec, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _deprecated_keys(cls, data: Any) -> Any:
        return adopt_deprecated_replace_approvers(data)

    @model_validator(mode="after")
    def _drills_fit_the_policy(self) -> Policy:
        seen: set[str] = set()
        for drill in self.drills:
            if drill.name in seen:
                raise ValueError(f"drills: two drills are named {drill.name}")
            seen.add(drill.name)
            bucket = drill.source.bucket or self.backups.default_bucket
            if bucket not in self.backups.buckets:
                raise ValueError(f"drills.{drill.name}.source.bucket: {bucket} is not an allowed backup bucket")
            region = self.drill_region(drill)
            if region not in self.region.allowed:
                raise ValueError(f"drills.{drill.name}.engine.region: {region} is not an allowed region")
        return self

    def drill_region(self, drill: DrillSpec) -> str:
        """Where a drill restores: its engine.region, else the policy's region.default."""
        return self.region.or_default(drill.engine.region)

    def drill(self, name: str) -> DrillSpec | None:
        """The drill named `name`, or None."""
        return next((d for d in self.drills if d.name == name), None)


def parse_policy(data: Any, source: str = "policy") -> Policy:
    """A Policy from parsed YAML, or ConfigError naming each bad key path and why."""
    try:
        return Policy.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise ConfigError(f"{source}: {problems}") from None


def load_policy(path: Path | None) -> Policy:
    """Load and validate the YAML policy at `path` (the shipped example when None)."""
    path = path or EXAMPLE_POLICY
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read policy {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return parse_policy(data, str(path))
