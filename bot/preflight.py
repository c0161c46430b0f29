"""The read-only AWS checks a restore passes before its card is posted and again in its validate stage."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from bot import engine_versions, instance_classes, into, kms_keys, tde
from bot.chain_plan import CheckedChain, check_chain
from bot.domain import BackupLocation, BackupSet, Edition, RestorePlan
from bot.errors import RequestError
from bot.orderable import OrderableOptions
from bot.restore_chain import ChainSource
from bot.stage_context import Gateways
from config.policy_model import Policy


@dataclass(frozen=True)
class Preflight:
    backup: BackupSet
    notes: tuple[str, ...]
    chain: CheckedChain | None = None
    plan_updates: dict[str, Any] = field(default_factory=dict)  # --into: what the live instance decides
    tde_kms_key_arns: tuple[str, ...] = ()  # the SSE-KMS keys of the TDE certificate files

    @property
    def bucket_kms_key_arns(self) -> tuple[str, ...]:
        """The SSE-KMS keys of every object the restore reads: the full backup's, the chain's, the TDE files'."""
        chain_keys = (self.chain.kms_key_arns if self.chain else ()) + self.tde_kms_key_arns
        return tuple(dict.fromkeys(self.backup.kms_key_arns + chain_keys))


def preflight(plan: RestorePlan, gateways: Gateways, policy: Policy) -> Preflight:
    """The read-only AWS checks: backup present (at most 10 files), same region, fits the edition and the storage,
    its SSE-KMS keys and the requested keys of an allowed account, class orderable."""
    location = BackupLocation(bucket=plan.backup_bucket, key=plan.backup_key, multi_file=plan.multi_file)
    backup = gateways.backups.resolve(location, policy.backups.default_bucket)
    if backup.region != plan.region:
        raise RequestError(
            "backup",
            f"bucket {backup.bucket} is in {backup.region} but the restore targets {plan.region}",
            "RDS restores only from a bucket in the instance's region; copy the backup or pick that region",
        )
    chain = check_chain(plan.chain, plan.region, gateways.backups) if plan.chain else None
    tde_keys, tde_update = _check_tde(plan, gateways)
    _check_keys(plan, backup.kms_key_arns + (chain.kms_key_arns if chain else ()) + tde_keys, gateways, policy)
    if plan.into is not None:
        found = Preflight(backup=backup, notes=(), chain=chain, tde_kms_key_arns=tde_keys)
        # The keys found here name a TDE restore's role, which the target's option group is checked against.
        keyed = plan.model_copy(update={"bucket_kms_key_arns": found.bucket_kms_key_arns, **tde_update})
        target = into.check_target(keyed, gateways, policy, tde_keys, _object_arns(backup, chain))
        return replace(found, notes=target.notes, plan_updates={**target.updates, **tde_update})
    _check_backup_size(plan, backup)
    notes: list[str] = []
    # One listing for both questions: the class (here) and the version it gets (_engine_version). A pinned version
    # needs no choosing: only its own rows are listed.
    options = gateways.instances.orderable_options(plan.edition.value, engine_version=plan.engine_version)
    orderable: set[str] | frozenset[str] = options.classes()
    listed = bool(orderable)
    if not orderable:
        orderable = instance_classes.BUILTIN_ORDERABLE[plan.edition]
        notes.append(
            f"{plan.region} listed no orderable classes for {plan.edition.value}; "
            "checked against rdsbot's built-in table"
        )
    if plan.instance_class not in orderable:
        suggestion = instance_classes.suggest_orderable(plan.instance_class, orderable)
        raise RequestError(
            "instance_class",
            f"{plan.instance_class} is not orderable for {plan.edition.value} in {plan.region}",
            f"try {suggestion}" if suggestion else None,
        )
    updates = {**tde_update, **_engine_version(plan, options, listed, notes, gateways)}
    return Preflight(backup=backup, notes=tuple(notes), chain=chain, plan_updates=updates, tde_kms_key_arns=tde_keys)


def _object_arns(backup: BackupSet, chain: CheckedChain | None) -> tuple[str, ...]:
    """Every object rds_restore_database reads: each file of the full backup, then each step of the chain."""
    steps: tuple[ChainSource, ...] = (chain.chain.diff,) if chain and chain.chain.diff else ()
    steps += chain.chain.logs if chain else ()
    files = tuple(f"arn:aws:s3:::{backup.bucket}/{key}" for key in backup.keys)
    return files + tuple(step.s3_arn for step in steps)


def _engine_version(
    plan: RestorePlan, options: OrderableOptions, listed: bool, notes: list[str], gateways: Gateways
) -> dict[str, Any]:
    """The exact version a new instance runs, when the policy pins none (bot/engine_versions.py). With no listing at
    all the instance stage sends the major alone and RDS picks its default of that major: the option group still
    fits, and refusing would stop every restore in a region whose listing is merely unavailable."""
    if plan.engine_version is not None:
        if not listed:
            # Nothing listed for the pinned version: refused here when the class lists others (CreateDBInstance
            # would fail after approval), sent unchecked only when the region lists nothing at all. The class's
            # own listing, since the pinned one holds none of its other versions.
            versions = gateways.instances.orderable_options(
                plan.edition.value, instance_class=plan.instance_class
            ).versions(plan.instance_class)
            if versions:
                engine_versions.check_pinned(
                    versions,
                    plan.engine_version,
                    plan.major_version,
                    plan.edition.value,
                    plan.instance_class,
                    plan.region,
                )
        return {}
    if not listed:
        notes.append(engine_versions.default_version_note(plan.major_version))
        return {}
    versions = options.versions(plan.instance_class)
    version = engine_versions.resolve(
        versions, plan.major_version, plan.edition.value, plan.instance_class, plan.region
    )
    return {"engine_version": version}


def _check_tde(plan: RestorePlan, gateways: Gateways) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The certificate files' checks and SSE-KMS keys, and the certificate's thumbprint for the plan (None for a
    .cer under SSE-KMS: the certificate is then recognised on an instance by its name only)."""
    if plan.tde is None:
        return (), {}
    keys, readable = tde.check_objects(plan.tde, plan.region, gateways.backups.head_object)
    if not readable:
        return keys, {}
    certificate = gateways.backups.read_object(plan.tde.certificate_bucket, plan.tde.certificate_key)
    return keys, {"tde": plan.tde.model_copy(update={"thumbprint": tde.thumbprint_of(certificate)})}


# SQL Server Express holds at most 10 GB per database (AWS guide "SQLServer.Procedural.Importing", limitations).
EXPRESS_MAX_BYTES = 10 * 2**30
MAX_STORAGE_GB = 16384


def _check_backup_size(plan: RestorePlan, backup: BackupSet) -> None:
    size_gib = backup.total_bytes / 2**30
    if plan.edition == Edition.EXPRESS and backup.total_bytes > EXPRESS_MAX_BYTES:
        raise RequestError(
            "edition",
            f"the backup holds {size_gib:.1f} GiB and SQL Server Express restores at most 10 GB per database",
            "use --edition web, se or ee",
        )
    if plan.allocated_storage_gb * 2**30 < backup.total_bytes:
        # A restored database takes at least the backup's size; a quarter more leaves room for its log.
        suggested = min(MAX_STORAGE_GB, max(20, -(-backup.total_bytes * 5 // (4 * 2**30))))
        raise RequestError(
            "allocated_storage_gb",
            f"{plan.allocated_storage_gb} GiB of storage cannot hold the {size_gib:.1f} GiB backup",
            f"ask for --storage {suggested} or more",
        )


def _check_keys(plan: RestorePlan, bucket_keys: tuple[str, ...], gateways: Gateways, policy: Policy) -> None:
    """The bucket's SSE-KMS keys like the requested ones; with no kms.allowed_accounts, only the bot's account."""
    requested = {
        "backup_kms_key_arn": plan.backup_kms_key_arn,
        "storage_kms_key_arn": plan.storage_kms_key_arn,
        "tde_password_key_arn": plan.tde.password_key_arn if plan.tde else None,
    }
    keys = [(name, key) for name, key in requested.items() if key] + [("backup", k) for k in bucket_keys]
    if not keys:
        return
    accounts = policy.kms.allowed_accounts or (gateways.identity.account_id(),)
    for name, key in keys:
        try:
            kms_keys.check_key_arn(name, key, plan.region, accounts)
        except RequestError as exc:
            if name != "backup":
                raise
            raise RequestError(
                "backup", f"the backup is stored with SSE-KMS, and its {exc.message}", exc.hint
            ) from None
