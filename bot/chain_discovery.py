"""`--chain PREFIX`: the newest full backup under a prefix, the newest differential after it, and the logs after
that, by S3 LastModified (the time each file was uploaded, which follows the time it was taken), ties by key.

A file is known by its name, as backup tools write them (Ola Hallengren's `_FULL_`/`_DIFF_`/`_LOG_`, dbatools'
`.bak`/`.trn`): `.trn` is a transaction log, a `.bak` whose file name says `diff` is a differential, any other
`.bak` a full backup. Pure: the service lists the prefix, this picks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.domain import BackupLocation, RestoreRequest
from bot.errors import RequestError
from bot.policy import check_bucket, check_region
from bot.ports import BackupStore
from bot.restore_chain import ListedObject
from config.policy_model import Policy


def find_chain(request: RestoreRequest, policy: Policy, backups_in: Callable[[str], BackupStore]) -> RestoreRequest:
    """List the --chain prefix (only in an allowed region and bucket: a refused one is never listed) and pick."""
    region = check_region(policy.region.or_default(request.region), policy)
    bucket = check_bucket(request.backup.bucket or policy.backups.default_bucket, policy, "chain")
    return discover(request, bucket, backups_in(region).list_objects(bucket, request.backup.key))


def _order(item: ListedObject) -> tuple[datetime, str]:
    return item.modified, item.key


def _is_differential(key: str) -> bool:
    return "diff" in key.rsplit("/", 1)[-1].lower()


def discover(request: RestoreRequest, bucket: str, objects: list[ListedObject]) -> RestoreRequest:
    """The request with its full backup, differential and logs filled in from what lies under the prefix."""
    prefix = request.backup.key
    baks = [o for o in objects if o.key.lower().endswith(".bak")]
    fulls = [o for o in baks if not _is_differential(o.key)]
    if not fulls:
        raise RequestError(
            "chain",
            f"no full backup (.bak without `diff` in its name) under s3://{bucket}/{prefix}",
            "check the prefix",
        )
    full = max(fulls, key=_order)
    # At or after: a differential uploaded in the same second as its full is still taken after it.
    diffs = [o for o in baks if _is_differential(o.key) and o.modified >= full.modified]
    diff = max(diffs, key=_order) if diffs else None
    base = diff or full
    logs = sorted((o for o in objects if o.key.lower().endswith(".trn") and o.modified >= base.modified), key=_order)
    return request.model_copy(
        update={
            "backup": BackupLocation(bucket=bucket, key=full.key),
            "diff": BackupLocation(bucket=bucket, key=diff.key) if diff else None,
            "logs": tuple(BackupLocation(bucket=bucket, key=o.key) for o in logs),
            "chain": False,  # found: from here on it is an ordinary chain request
        }
    )
