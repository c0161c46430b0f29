"""Slash-command text -> RestoreRequest, or a RequestError naming the bad field. Pure."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bot import tde
from bot.domain import BackupLocation, Edition, RestoreRequest, StorageType
from bot.errors import RequestError
from bot.keep_window import parse_duration
from bot.restore_chain import parse_stop_at

USAGE = (
    "/rds-restore <backup> <instance-class> [--region R] [--name INSTANCE-ID] [--db DATABASE] [--edition ex|web|se|ee]"
    " [--storage-type gp2|gp3|io1|io2] [--storage GB] [--iops N] [--throughput MIBPS] [--cores N]"
    " [--threads-per-core 1|2] [--multi-az] [--major-version 13.00|14.00|15.00|16.00]"
    ' [--backup-kms-key KEY-ARN] [--storage-kms-key KEY-ARN] [--reason "WHY"] [--keep 30m|24h|7d] [--dry-run]'
    " [--diff KEY.bak] [--log KEY.trn]... [--stop-at ISO-8601-TIME]"
    " [--tde-certificate KEY.cer --tde-private-key KEY.pvk --tde-password-key KEY-ARN]"
    " | /rds-restore --chain PREFIX <instance-class> [--stop-at ISO-8601-TIME] [options]"
    "; onto an existing instance: /rds-restore <backup> --into <instance> [--db DATABASE] [--replace]"
    " (a chain too: --diff, --log, --stop-at, or --chain PREFIX --into <instance>)"
)
# The card shows the reason whole; past this it stops being a reason and starts being a document.
MAX_REASON_CHARS = 300
# Phones and macOS may turn a typed " into a typographic one; shlex knows only the straight kind. (Single ones
# stay: a typographic apostrophe in an unquoted word would otherwise open a quote that never closes.)
_TYPOGRAPHIC_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"'})
# Flags that once existed, and what to write instead.
_RETIRED = {
    "--kms-key": (
        "kms_key",
        "--kms-key is gone: RDS uses different keys for different jobs",
        "write --backup-kms-key KEY-ARN for a .bak encrypted client-side (rds_backup_database @kms_master_key_arn), "
        "--storage-kms-key KEY-ARN for the new instance's storage; the bucket's SSE-KMS key is read from the backup",
    ),
}

BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# What a file of each suffix is, for the hint when a key has another.
_WHAT = {
    ".trn": "a transaction log backup",
    ".cer": "the certificate (BACKUP CERTIFICATE ... TO FILE)",
    ".pvk": "the private key (WITH PRIVATE KEY (FILE = ...))",
}


@dataclass(frozen=True)
class _WholeNumber:
    """A flag's value as a whole number within [low, high]; a class rather than a closure, so the conversion runs
    (and can be mutation-tested) at parse time, not once at import."""

    field: str
    low: int
    high: int

    def __call__(self, text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise RequestError(self.field, f"{text!r} is not a whole number") from None
        if not self.low <= value <= self.high:
            raise RequestError(self.field, f"{value} is out of range", f"use {self.low} to {self.high}")
        return value


def _edition(text: str) -> Edition:
    try:
        return Edition.parse(text)
    except ValueError:
        raise RequestError("edition", f"{text!r} is not a SQL Server edition", "use ex, web, se or ee") from None


def _storage_type(text: str) -> StorageType:
    try:
        return StorageType(text.lower())
    except ValueError:
        raise RequestError("storage_type", f"{text!r} is not a storage type", "use gp2, gp3, io1 or io2") from None


def read_reason(text: str) -> str:
    reason = " ".join(text.split())  # one line on the card, whatever was pasted
    if not reason:
        raise RequestError("reason", "--reason is empty", 'say why, e.g. --reason "INC-1234: check last night\'s data"')
    if len(reason) > MAX_REASON_CHARS:
        raise RequestError(
            "reason", f"--reason is {len(reason)} characters; at most {MAX_REASON_CHARS}", "shorten it; link a ticket"
        )
    return reason


def _diff(text: str) -> BackupLocation:
    return parse_backup(text, "diff")


def _log(text: str) -> BackupLocation:
    return parse_backup(text, "logs", ".trn")


def _tde_file(text: str, field: str, suffix: str) -> BackupLocation:
    location = parse_backup(text, field, suffix)
    if location.multi_file:
        raise RequestError(field, "a TDE certificate file is one object, not a prefix", f"name the {suffix} file")
    return location


def _tde_certificate(text: str) -> BackupLocation:
    return _tde_file(text, "tde_certificate", ".cer")


def _tde_private_key(text: str) -> BackupLocation:
    return _tde_file(text, "tde_private_key", ".pvk")


# flag -> (request field, converter); converter None marks a boolean switch.
_FLAGS: dict[str, tuple[str, Callable[[str], Any] | None]] = {
    "--region": ("region", str.lower),
    "--name": ("target_instance_id", str),
    "--db": ("database_name", str),
    "--edition": ("edition", _edition),
    "--storage-type": ("storage_type", _storage_type),
    "--storage": ("allocated_storage_gb", _WholeNumber("allocated_storage_gb", 20, 16384)),
    "--iops": ("iops", _WholeNumber("iops", 1000, 256000)),
    "--throughput": ("storage_throughput", _WholeNumber("storage_throughput", 125, 4000)),
    "--cores": ("cores", _WholeNumber("cores", 1, 128)),
    "--threads-per-core": ("threads_per_core", _WholeNumber("threads_per_core", 1, 2)),
    "--multi-az": ("multi_az", None),
    "--major-version": ("major_version", str),
    "--backup-kms-key": ("backup_kms_key_arn", str),
    "--storage-kms-key": ("storage_kms_key_arn", str),
    "--reason": ("reason", read_reason),
    "--keep": ("keep", parse_duration),
    "--dry-run": ("dry_run", None),
    "--diff": ("diff", _diff),
    "--log": ("logs", _log),  # repeatable: the logs in the order given
    "--stop-at": ("stop_at", parse_stop_at),
    "--chain": ("chain", str),
    "--into": ("into_instance_id", str),
    "--replace": ("replace", None),
    "--tde-certificate": ("tde_certificate", _tde_certificate),
    "--tde-private-key": ("tde_private_key", _tde_private_key),
    "--tde-password-key": ("tde_password_key_arn", str),
}
# Flags that may come more than once, collected in order.
_REPEATABLE = frozenset({"--log"})


def parse_backup(text: str, field: str = "backup", suffix: str = ".bak") -> BackupLocation:
    """s3://bucket/key, a bare key in the default bucket, or either ending in `*` for a multi-file backup (for a
    log, `*` lists the logs under the prefix, each restored on its own in name order)."""
    multi_file = text.endswith("*")
    body = text[:-1] if multi_file else text
    bucket: str | None = None
    if body.startswith("s3://"):
        bucket, _, body = body[len("s3://") :].partition("/")
        if not BUCKET_NAME.fullmatch(bucket):
            raise RequestError(field, f"{bucket!r} is not an S3 bucket name", f"write s3://bucket/path/file{suffix}")
    key = body.lstrip("/")
    example = "prod-log" if suffix == ".trn" else "prod-backup"
    if not key:
        raise RequestError(field, f"{text!r} names no object", f"write {example}{suffix} or s3://bucket/file{suffix}")
    if "*" in key:
        raise RequestError(field, "a `*` may only end a multi-file prefix", f"write s3://bucket/{example}*")
    if not multi_file and not key.lower().endswith(suffix):
        what = _WHAT.get(suffix, "a native SQL Server backup")
        raise RequestError(field, f"{key!r} is not a {suffix} file", f"name {what}, or a prefix ending in *")
    return BackupLocation(bucket=bucket, key=key, multi_file=multi_file)


Flags = dict[str, tuple[str, Callable[[str], Any] | None]]


def read_words(
    text: str,
    flags: Flags,
    usage: str,
    *,
    retired: dict[str, tuple[str, str, str]] | None = None,
    repeatable: frozenset[str] = frozenset(),
    once: dict[str, tuple[str, str]] | None = None,
) -> tuple[list[str], dict[str, Any]]:
    """A slash command's words: the positional ones, and flag -> converted value by request field. `once`: flags
    refused when given twice (message, hint); others keep the last value."""
    try:
        words = shlex.split(text.translate(_TYPOGRAPHIC_QUOTES))
    except ValueError as exc:
        raise RequestError("command", f"cannot read the command ({exc})", f"usage: {usage}") from None
    positional: list[str] = []
    values: dict[str, Any] = {}
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("--"):
            positional.append(word)
            continue
        flag, has_inline, inline = word.partition("=")
        if retired and flag in retired:
            raise RequestError(*retired[flag])
        if flag not in flags:
            raise RequestError("command", f"unknown flag {flag}", f"usage: {usage}")
        field, convert = flags[flag]
        if convert is None:
            if has_inline:
                raise RequestError(field, f"{flag} takes no value")
            values[field] = True
            continue
        if has_inline:
            raw = inline
        elif index < len(words):
            raw = words[index]
            index += 1
        else:
            raise RequestError(field, f"{flag} needs a value", f"usage: {usage}")
        if flag in repeatable:
            values[field] = (*values.get(field, ()), convert(raw))
        elif once and flag in once and field in values:
            raise RequestError(field, *once[flag])
        else:
            values[field] = convert(raw)
    return positional, values


def parse_restore_command(text: str) -> RestoreRequest:
    """Parse `/rds-restore` text; RequestError names the first bad field."""
    positional, values = read_words(
        text,
        _FLAGS,
        USAGE,
        retired=_RETIRED,
        repeatable=_REPEATABLE,
        # Each differential holds every change since the full: only the newest one is ever needed.
        once={"--diff": ("--diff is given twice", "give only the newest differential after the full")},
    )
    tde.given_flags(values)
    if "chain" in values:
        return _chain_request(values.pop("chain"), positional, values)
    if "into_instance_id" in values:
        return _into_request(positional, values)
    if values.get("replace"):
        raise RequestError(
            "replace", "--replace drops a database on an existing instance, so it needs --into", f"usage: {USAGE}"
        )
    if len(positional) < 2:
        missing = "backup" if not positional else "instance_class"
        raise RequestError(missing, "is missing", f"usage: {USAGE}")
    if len(positional) > 2:
        raise RequestError("command", f"unexpected word {positional[2]!r}", f"usage: {USAGE}")
    backup, instance_class = positional
    return _request(backup=parse_backup(backup), instance_class=instance_class.lower(), **values)


def _into_request(positional: list[str], values: dict[str, Any]) -> RestoreRequest:
    """`<backup> --into <instance>`: the instance exists, so its class is not asked for."""
    if not positional:
        raise RequestError("backup", "is missing", f"usage: {USAGE}")
    if len(positional) > 1:
        raise RequestError(
            "instance_class",
            f"--into restores onto an existing instance, which keeps its class; {positional[1]!r} is not wanted",
            f"drop {positional[1]!r}, or drop --into to restore onto a new instance",
        )
    return _request(backup=parse_backup(positional[0]), instance_class=None, **values)


def _request(**fields: Any) -> RestoreRequest:
    try:
        return RestoreRequest(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise RequestError(str(first["loc"][0]), first["msg"]) from None


def _chain_request(prefix: str, positional: list[str], values: dict[str, Any]) -> RestoreRequest:
    """`--chain PREFIX <class>`: the full, differential and logs are found under PREFIX when the request is checked."""
    if "diff" in values or "logs" in values:
        raise RequestError("chain", "--chain finds the differential and the logs itself", "leave out --diff and --log")
    into = "into_instance_id" in values
    if len(positional) != (0 if into else 1):
        raise RequestError(
            "chain",
            "--chain with --into takes no other word: the instance keeps its class"
            if into
            else "--chain takes the instance class as its only other word",
            f"usage: {USAGE}",
        )
    location = parse_backup(prefix + "*", "chain")  # a prefix, as a multi-file backup's is written
    backup = location.model_copy(update={"multi_file": False})
    instance_class = None if into else positional[0].lower()
    return _request(backup=backup, instance_class=instance_class, chain=True, **values)
