"""Request policy: region and bucket allowlists, names, class rules, storage rules. Pure.

`plan_restore` is the single place a request becomes a RestorePlan: every default filled in, every rule checked.
What needs AWS to answer (object exists, bucket region, orderability) is checked by the validate stage.
"""

from __future__ import annotations

import re
from typing import Any

from bot import instance_classes, keep_window, kms_keys, names, tde
from bot.domain import BackupLocation, Edition, RestorePlan, RestoreRequest, StorageType
from bot.errors import RequestError
from bot.into_target import IntoTarget
from bot.restore_chain import ChainSource, RestoreChain, check_stop_at
from config.policy_model import Policy

# RDS DB instance identifier: 1-63 letters, digits, hyphens; starts with a letter; no '--'; no trailing '-'.
_INSTANCE_ID = re.compile(r"[a-z](?!.*--)[a-z0-9-]{0,62}(?<!-)")
# A SQL Server database name we accept: a plain identifier. No quotes, brackets, spaces or semicolons, so the
# name can never carry T-SQL (it is also sent as a bound parameter, never formatted into a statement).
_DATABASE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_SYSTEM_DATABASES = {"master", "model", "msdb", "tempdb", "rdsadmin"}


def check_instance_id(value: str) -> str:
    value = value.lower()
    if not _INSTANCE_ID.fullmatch(value):
        raise RequestError(
            "target_instance_id",
            f"{value!r} is not a valid RDS instance identifier",
            "use 1-63 letters, digits or hyphens, starting with a letter, no '--', not ending in '-'",
        )
    return value


def check_database_name(value: str) -> str:
    if not _DATABASE_NAME.fullmatch(value):
        raise RequestError(
            "database_name",
            f"{value!r} is not an allowed database name",
            "use letters, digits and underscores, starting with a letter or underscore (at most 128)",
        )
    if value.lower() in _SYSTEM_DATABASES:
        raise RequestError("database_name", f"{value} is a system database", "choose another name")
    return value


def check_region(region: str, policy: Policy) -> str:
    if region not in policy.region.allowed:
        raise RequestError(
            "region",
            f"{region} is not allowed by policy",
            f"allowed regions: {', '.join(policy.region.allowed)}",
        )
    return region


def check_bucket(bucket: str, policy: Policy, field: str = "backup") -> str:
    if bucket not in policy.backups.buckets:
        raise RequestError(
            field,
            f"bucket {bucket} is not an allowed backup bucket",
            f"allowed buckets: {', '.join(policy.backups.buckets)}",
        )
    return bucket


def _check_storage(request: RestoreRequest, storage_type: StorageType) -> None:
    if storage_type in (StorageType.IO1, StorageType.IO2) and request.iops is None:
        raise RequestError("iops", f"{storage_type} storage needs --iops", "e.g. --iops 3000")
    if request.iops is not None and storage_type == StorageType.GP2:
        raise RequestError("iops", "gp2 storage has no provisioned IOPS", "use --storage-type gp3, io1 or io2")
    if request.storage_throughput is not None and storage_type != StorageType.GP3:
        raise RequestError("storage_throughput", "throughput can be set only on gp3 storage")


def check_kms_keys(request: RestoreRequest, region: str, policy: Policy) -> None:
    """The keys a request names: full ARNs in the target region, of an account the policy allows (when it lists
    any; otherwise the preflight holds them to the bot's own account)."""
    accounts = policy.kms.allowed_accounts
    if request.backup_kms_key_arn:
        # The restore role is granted this key, and IAM matches key use by key ARN only: no alias here.
        kms_keys.check_key_arn("backup_kms_key_arn", request.backup_kms_key_arn, region, accounts, alias_allowed=False)
    if request.storage_kms_key_arn:
        kms_keys.check_key_arn("storage_kms_key_arn", request.storage_kms_key_arn, region, accounts)


def check_bot_can_reach_instances(policy: Policy) -> None:
    """The bot logs in on port 1433 to run the restore (RDS has no API for msdb.dbo.rds_restore_database), and a
    new security group admits nobody: with no bot source the instance would be created, billed and unreachable."""
    if not policy.network.bot_sources:
        raise RequestError(
            "network.bot_sources",
            "the policy names no bot source, so rdsbot could not reach port 1433 of the instance it creates",
            "an operator must list the security group or address rdsbot runs from in network.bot_sources",
        )


def check_reason(request: RestoreRequest, policy: Policy, *, drill: bool) -> None:
    """A policy may want every request to say why; a drill is the policy's own request and needs none."""
    if policy.approvals.require_reason and not drill and not request.reason:
        raise RequestError(
            "reason",
            "this workspace's policy (approvals.require_reason) wants every restore to say why",
            'add --reason "why you need it", e.g. --reason "INC-1234: check last night\'s orders"',
        )


def plan_restore(request: RestoreRequest, policy: Policy, job_id: str, *, drill: bool = False) -> RestorePlan:
    """Apply defaults and every rule that needs no AWS call; RequestError names the first broken one."""
    check_bot_can_reach_instances(policy)
    check_reason(request, policy, drill=drill)
    if request.into_instance_id is not None:
        return _plan_into(request, policy, job_id, drill=drill)
    if request.instance_class is None:
        raise RequestError("instance_class", "is missing", "name a class such as db.m5.large, or use --into")
    region = check_region(policy.region.or_default(request.region), policy)
    bucket = check_bucket(request.backup.bucket or policy.backups.default_bucket, policy)
    warnings = instance_classes.check_class(request.instance_class)
    edition = request.edition or policy.engine.edition
    if request.multi_az and edition in (Edition.EXPRESS, Edition.WEB):
        raise RequestError("multi_az", f"Multi-AZ is not offered for {edition}", "use --edition se or ee")
    storage_type = request.storage_type or policy.engine.storage_type
    _check_storage(request, storage_type)
    license_model = policy.engine.license_model
    instance_classes.check_processor_features(
        request.instance_class, request.cores, request.threads_per_core, license_model
    )
    major_version = instance_classes.check_major_version(request.major_version or policy.engine.major_version)
    # A pinned minor version belongs to the policy's major; another major takes that major's newest minor.
    engine_version = policy.engine.engine_version if major_version == policy.engine.major_version else None
    check_kms_keys(request, region, policy)
    instance_id = check_instance_id(
        request.target_instance_id or names.default_instance_id(request.backup.key, job_id, drill=drill)
    )
    if drill and not instance_id.startswith("rdsbot-drill-"):
        raise RequestError("target_instance_id", "drill instances are always named rdsbot-drill-...")
    if not drill and instance_id.startswith("rdsbot-drill-"):
        raise RequestError("target_instance_id", "names starting rdsbot-drill- are reserved for drills")
    if not instance_id.startswith("rdsbot-"):
        # The shipped IAM policy lets the bot read only the RDS-managed master secrets of db:rdsbot-* instances
        # (config/rdsbot-iam-policy.json), so any other name would be created and then never logged into.
        raise RequestError(
            "target_instance_id",
            f"{instance_id} does not start with rdsbot-; rdsbot may log in only to instances it names rdsbot-*",
            f"use --name rdsbot-{instance_id}",
        )
    database = check_database_name(request.database_name or names.default_database_name(request.backup.key))
    keep = None
    if not drill:  # a drill's instance goes with its run (keep_minutes), never by a restore's window
        lifecycle = policy.lifecycle
        keep = keep_window.check_keep(request.keep, lifecycle.default_keep, lifecycle.max_keep)
    return _build_plan(
        request,
        region=region,
        bucket=bucket,
        database=database,
        chain=plan_chain(request, policy, drill=drill),
        instance_class=request.instance_class,
        target_instance_id=instance_id,
        edition=edition,
        major_version=major_version,
        engine_version=engine_version,
        license_model=license_model,
        storage_type=storage_type,
        allocated_storage_gb=request.allocated_storage_gb or policy.engine.allocated_storage_gb,
        iops=request.iops,
        storage_throughput=request.storage_throughput,
        cores=request.cores,
        threads_per_core=request.threads_per_core,
        multi_az=request.multi_az,
        storage_kms_key_arn=request.storage_kms_key_arn,
        warnings=tuple(warnings),
        keep_seconds=None if keep is None else int(keep.total_seconds()),
        final_snapshot=None if keep is None else policy.lifecycle.final_snapshot,
        tde=plan_tde(request, region, policy, job_id, engine=(edition.value, major_version)),
    )


def _build_plan(
    request: RestoreRequest, *, region: str, bucket: str, database: str, chain: RestoreChain | None, **shape: Any
) -> RestorePlan:
    """The one RestorePlan constructor: what every plan takes from the request (backup, database, region, the
    backup's key, the reason, the chain) and `shape`, the instance's fields (a new one's, or an --into one's)."""
    return RestorePlan(
        backup_bucket=bucket,
        backup_key=request.backup.key,
        multi_file=request.backup.multi_file,
        database_name=database,
        region=region,
        backup_kms_key_arn=request.backup_kms_key_arn,
        reason=request.reason,
        chain=chain,
        **shape,
    )


def plan_tde(
    request: RestoreRequest, region: str, policy: Policy, job_id: str, engine: tuple[str, str] | None
) -> tde.TdeCertificate | None:
    """The certificate to import before the restore, its files in allowed buckets; None without the TDE flags.
    `engine` (edition, major version) of a new instance is checked here; an --into instance's by its preflight."""
    certificate, private_key = request.tde_certificate, request.tde_private_key
    if certificate is None or private_key is None or request.tde_password_key_arn is None:
        return None
    if engine is not None:
        tde.check_support(*engine)
        tde.check_single_az(request.multi_az)
    tde.check_password_key(request.tde_password_key_arn, region, policy.kms.allowed_accounts)
    default = policy.backups.default_bucket
    return tde.TdeCertificate(
        certificate_name=tde.certificate_name(job_id),
        certificate_bucket=check_bucket(certificate.bucket or default, policy, "tde_certificate"),
        certificate_key=certificate.key,
        private_key_bucket=check_bucket(private_key.bucket or default, policy, "tde_private_key"),
        private_key_key=private_key.key,
        password_key_arn=request.tde_password_key_arn,
    )


def plan_chain(request: RestoreRequest, policy: Policy, *, drill: bool = False) -> RestoreChain | None:
    """--diff, --log and --stop-at with their buckets decided and allowed, as the full backup's; None without."""
    if request.diff is None and not request.logs:
        check_stop_at(0, request.stop_at)
        return None
    if drill:
        raise RequestError("diff" if request.diff else "logs", "a drill restores one full backup, not a chain")

    def source(location: BackupLocation, field: str) -> ChainSource:
        bucket = check_bucket(location.bucket or policy.backups.default_bucket, policy, field)
        return ChainSource(bucket=bucket, key=location.key, multi_file=location.multi_file)

    check_stop_at(len(request.logs), request.stop_at)
    return RestoreChain(
        diff=source(request.diff, "diff") if request.diff else None,
        logs=tuple(source(log, "logs") for log in request.logs),
        stop_at=request.stop_at,
    )


# Flags that shape a new instance: an --into instance already has its class, storage, engine and lifetime.
_NEW_INSTANCE_FLAGS = {
    "target_instance_id": "--name",
    "edition": "--edition",
    "storage_type": "--storage-type",
    "allocated_storage_gb": "--storage",
    "iops": "--iops",
    "storage_throughput": "--throughput",
    "cores": "--cores",
    "threads_per_core": "--threads-per-core",
    "multi_az": "--multi-az",
    "major_version": "--major-version",
    "storage_kms_key_arn": "--storage-kms-key",
    "keep": "--keep",
}


def _plan_into(request: RestoreRequest, policy: Policy, job_id: str, *, drill: bool) -> RestorePlan:
    """An --into plan: the rules that need no AWS call. The instance's class, engine and version are placeholders
    here (the policy's defaults) until the preflight reads them from the live instance (bot/into.py)."""
    if drill:
        raise RequestError("into_instance_id", "drills always restore onto an instance of their own")
    for name, flag in _NEW_INSTANCE_FLAGS.items():
        if getattr(request, name) not in (None, False):
            raise RequestError(
                name,
                f"{flag} shapes a new instance; --into restores onto one that exists and keeps it as it is",
                f"drop {flag}, or drop --into to restore onto a new instance",
            )
    region = check_region(policy.region.or_default(request.region), policy)
    bucket = check_bucket(request.backup.bucket or policy.backups.default_bucket, policy)
    check_kms_keys(request, region, policy)
    try:
        instance_id = check_instance_id(request.into_instance_id or "")
    except RequestError as exc:
        raise RequestError("into_instance_id", exc.message, exc.hint) from None
    return existing_instance_plan(
        policy,
        bucket=bucket,
        key=request.backup.key,
        multi_file=request.backup.multi_file,
        instance_id=instance_id,
        database=check_database_name(request.database_name or names.default_database_name(request.backup.key)),
        region=region,
        backup_kms_key_arn=request.backup_kms_key_arn,
        reason=request.reason,
        chain=plan_chain(request, policy),
        into=IntoTarget(replace=request.replace, allowed_by=""),
        tde=plan_tde(request, region, policy, job_id, engine=None),
    )


def existing_instance_plan(
    policy: Policy,
    *,
    bucket: str,
    key: str,
    multi_file: bool,
    instance_id: str,
    database: str,
    region: str,
    backup_kms_key_arn: str | None,
    reason: str | None,
    **kind: Any,
) -> RestorePlan:
    """A plan for a job on an instance that exists (--into, /rds-backup): its class, engine and version are the
    policy's defaults as placeholders until the request-time checks read them from the live instance. No keep
    window: rdsbot deletes only instances its jobs created, and such a job creates none."""
    engine = policy.engine
    return RestorePlan(
        backup_bucket=bucket,
        backup_key=key,
        multi_file=multi_file,
        instance_class="existing",
        target_instance_id=instance_id,
        database_name=database,
        edition=engine.edition,
        major_version=engine.major_version,
        engine_version=None,
        license_model=engine.license_model,
        storage_type=engine.storage_type,
        allocated_storage_gb=engine.allocated_storage_gb,
        iops=None,
        storage_throughput=None,
        cores=None,
        threads_per_core=None,
        multi_az=False,
        region=region,
        backup_kms_key_arn=backup_kms_key_arn,
        reason=reason,
        keep_seconds=None,
        final_snapshot=None,
        **kind,
    )
