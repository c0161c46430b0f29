"""The read-only S3 checks of a restore chain at request time: every backup exists, in the instance's region, at
most 10 files each, a differential is .bak and a log .trn; a log `prefix*` becomes its logs in name order. Pure
over the BackupStore port."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import BackupLocation, BackupSet
from bot.errors import RequestError
from bot.ports import BackupStore
from bot.restore_chain import ChainSource, RestoreChain, check_log_count


@dataclass(frozen=True)
class CheckedChain:
    chain: RestoreChain  # logs expanded to single keys
    kms_key_arns: tuple[str, ...]  # the SSE-KMS keys its objects are stored under: the restore role needs them
    total_bytes: int
    files: int


def _resolve(source: ChainSource, field: str, region: str, backups: BackupStore) -> BackupSet:
    location = BackupLocation(bucket=source.bucket, key=source.key, multi_file=source.multi_file)
    try:
        found = backups.resolve(location, source.bucket)
    except RequestError as exc:
        # The same rules as the full backup's (exists, at most 10 files), named by the flag that asked for it.
        raise RequestError(field, exc.message, exc.hint) from None
    if found.region != region:
        raise RequestError(
            field,
            f"bucket {found.bucket} is in {found.region} but the restore targets {region}",
            "RDS restores only from a bucket in the instance's region; copy the backup or pick that region",
        )
    return found


def _only(found: BackupSet, field: str, suffix: str) -> None:
    wrong = [key for key in found.keys if not key.lower().endswith(suffix)]
    if wrong:
        flag = "--diff" if field == "diff" else "--log"
        raise RequestError(
            field, f"s3://{found.bucket}/{wrong[0]} is not a {suffix} file", f"give {flag} a prefix only {suffix} match"
        )


def check_chain(chain: RestoreChain, region: str, backups: BackupStore) -> CheckedChain:
    """Resolve every backup of the chain; RequestError names --diff (`diff`) or --log (`logs`)."""
    sets: list[BackupSet] = []
    diff = chain.diff
    if diff is not None:
        found = _resolve(diff, "diff", region, backups)
        _only(found, "diff", ".bak")
        sets.append(found)
    logs: list[ChainSource] = []
    for source in chain.logs:
        found = _resolve(source, "logs", region, backups)
        _only(found, "logs", ".trn")
        sets.append(found)
        # Each log is its own rds_restore_log; a prefix lists them, restored in name order.
        logs.extend(ChainSource(bucket=found.bucket, key=key) for key in sorted(found.keys))
    check_log_count(len(logs))
    return CheckedChain(
        chain=chain.model_copy(update={"logs": tuple(logs)}),
        kms_key_arns=tuple(sorted({key for found in sets for key in found.kms_key_arns})),
        total_bytes=sum(found.total_bytes for found in sets),
        files=sum(len(found.keys) for found in sets),
    )
