"""`/rds-backup`: the request, the plan section a backup job carries, and the destination rules. Pure.

`rds_backup_database` (AWS guide "SQLServer.Procedural.Importing.Native.Using", backing up a database): at most 10
files; with more than one, the file name holds one `*`, which RDS replaces by `1-of-N` ... `N-of-N`; an existing
object is refused unless @overwrite_s3_backup_file=1; the bucket must be in the instance's region; a differential
is based on the last full backup (SQL Server error 3035 without one).
"""

from __future__ import annotations

from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.backup_target import MAX_FILES, BackupType
from bot.errors import RequestError
from bot.parser import BUCKET_NAME, read_reason, read_words

USAGE = (
    "/rds-backup <instance> <database> [s3://bucket/key] [--files N] [--type full|differential]"
    ' [--backup-kms-key K] [--overwrite] [--region R] [--reason "WHY"]'
)


class BackupRequest(BaseModel):
    """A parsed /rds-backup; `destination` None: the default under the first allowed destination."""

    model_config = ConfigDict(frozen=True)

    instance_id: str
    database_name: str
    destination: str | None = None  # s3://bucket/key as typed
    files: int = 1
    backup_type: BackupType = BackupType.FULL
    kms_key_arn: str | None = None
    overwrite: bool = False
    region: str | None = None
    reason: str | None = None


def _files(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise RequestError("files", f"{text!r} is not a whole number", f"use 1 to {MAX_FILES}") from None
    if not 1 <= value <= MAX_FILES:
        raise RequestError("files", f"{value} files; RDS writes 1 to {MAX_FILES}", f"use 1 to {MAX_FILES}")
    return value


def _type(text: str) -> BackupType:
    try:
        return BackupType(text.upper())
    except ValueError:
        raise RequestError("type", f"{text!r} is not a backup type", "use full or differential") from None


_FLAGS: dict[str, tuple[str, Callable[[str], Any] | None]] = {
    "--files": ("files", _files),
    "--type": ("backup_type", _type),
    "--backup-kms-key": ("kms_key_arn", str),
    "--overwrite": ("overwrite", None),
    "--region": ("region", str.lower),
    "--reason": ("reason", read_reason),
}


def parse_backup_command(text: str) -> BackupRequest:
    """Parse `/rds-backup` text; RequestError names the first bad field."""
    positional, values = read_words(text, _FLAGS, USAGE)
    if len(positional) < 2:
        raise RequestError("instance" if not positional else "database", "is missing", f"usage: {USAGE}")
    if len(positional) > 3:
        raise RequestError("command", f"unexpected word {positional[3]!r}", f"usage: {USAGE}")
    instance_id, database = positional[:2]
    destination = positional[2] if len(positional) == 3 else None
    if destination is not None:
        split_destination(destination)  # the form is checked at once; the policy later
    return BackupRequest(instance_id=instance_id, database_name=database, destination=destination, **values)


def split_destination(url: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key); RequestError(field='destination') for anything else."""
    if not url.startswith("s3://"):
        raise RequestError("destination", f"{url!r} is not an s3:// URL", "write s3://bucket/path/file.bak")
    bucket, _, key = url[len("s3://") :].partition("/")
    if not BUCKET_NAME.fullmatch(bucket):
        raise RequestError("destination", f"{bucket!r} is not an S3 bucket name", "write s3://bucket/path/file.bak")
    if not key or key.endswith("/"):
        raise RequestError("destination", f"{url!r} names no object", "write s3://bucket/path/file.bak")
    return bucket, key


def default_destination(pattern: str, instance_id: str, database: str, job_id: str, files: int) -> str:
    """Where a backup goes when no destination is typed: under the first allowed pattern's prefix, a name no
    earlier job used (the job id), so the default never overwrites."""
    prefix = pattern.removesuffix("*")
    if not pattern.endswith("*"):
        return pattern  # the policy allows exactly one object
    stripe = "-*" if files > 1 else ""
    return f"{prefix}{instance_id}/{database}-{job_id}{stripe}.bak"


def matching_pattern(url: str, patterns: tuple[str, ...]) -> str:
    """The backups.allowed_destinations pattern `url` falls under; RequestError when none."""
    for pattern in patterns:
        literal = pattern.removesuffix("*")
        if url == pattern or (pattern.endswith("*") and url.startswith(literal)):
            return pattern
    raise RequestError(
        "destination",
        f"{url} is not under any of backups.allowed_destinations ({', '.join(patterns)})",
        "write to one of them, or ask an operator to add the prefix to the policy",
    )


def check_stripes(key: str, files: int) -> None:
    """AWS guide: more than one file needs exactly one `*` in the file name (the part after the last `/`); rdsbot
    also refuses a `*` in a one-file backup, since its restores read a `*` as a multi-file prefix."""
    name = key.rsplit("/", 1)[-1]
    stars = key.count("*")
    if files > 1 and (name.count("*") != 1 or stars != 1):
        raise RequestError(
            "destination",
            f"a {files}-file backup needs exactly one * in the file name ({name!r}); RDS names the files 1-of-{files}",
            "e.g. s3://bucket/copies/prod-*.bak",
        )
    if files == 1 and stars:
        raise RequestError("destination", f"{key!r} holds a *, which only a multi-file backup takes", "add --files N")
    if not fnmatchcase(name.lower(), "*.bak"):
        raise RequestError("destination", f"{name!r} is not a .bak file name", "end the key with .bak")
