"""What a sandbox backup holds, so drill checks can pass or fail for real against the sandbox SQL Server, and how
the emulator finds a backup in S3.

A sandbox .bak starts with one header line and a small JSON manifest (tables with row counts, django_migrations
rows, optional faults), then padding to the wanted size. The sandbox reads it from S3 when a restore starts.
"""

from __future__ import annotations

import json
from typing import Any

from bot.tde import thumbprint_of

HEADER = b"RDSBOT-SANDBOX-BAK/1\n"
_READ_BYTES = 64 * 1024

Content = dict[str, Any]


def manifest_bytes(content: Content, size: int = 0) -> bytes:
    """A sandbox backup's bytes: the header, the manifest, then zeros up to `size`."""
    head = HEADER + json.dumps(content, sort_keys=True).encode() + b"\n"
    return head + b"\0" * max(0, size - len(head))


def parse_manifest(data: bytes) -> Content | None:
    """The manifest at the start of `data`, or None when it is not a sandbox backup."""
    if not data.startswith(HEADER):
        return None
    line = data[len(HEADER) :].split(b"\n", 1)[0]
    try:
        content = json.loads(line)
    except ValueError:
        return None
    return content if isinstance(content, dict) else None


def s3_objects_exist(s3: Any, s3_arn: str) -> bool:
    """What RDS checks before a restore: the key exists, or for `prefix*` at least one object shares the prefix."""
    bucket, key = _bucket_and_key(s3_arn)
    prefix = key.removesuffix("*")
    try:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=2)
    except Exception:
        return False
    keys = [obj["Key"] for obj in listed.get("Contents", [])]
    return bool(keys) if key.endswith("*") else key in keys


def read_manifest(s3: Any, s3_arn: str) -> Content | None:
    """The manifest of the backup an rds_restore_database ARN names (the first file of a `prefix*` set)."""
    bucket, key = _bucket_and_key(s3_arn)
    try:
        if key.endswith("*"):
            listed = s3.list_objects_v2(Bucket=bucket, Prefix=key.removesuffix("*"), MaxKeys=10)
            keys = sorted(obj["Key"] for obj in listed.get("Contents", []))
            if not keys:
                return None
            key = keys[0]
        body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{_READ_BYTES - 1}")["Body"].read()
    except Exception:  # a missing object is the restore's own failure to report, not the manifest's
        return None
    return parse_manifest(body)


def _bucket_and_key(s3_arn: str) -> tuple[str, str]:
    bucket, _, key = s3_arn.removeprefix("arn:aws:s3:::").partition("/")
    return bucket, key


# A sandbox certificate file (.cer): its own header, then a subject. Its thumbprint is SQL Server's: the SHA-1 of
# the file (bot/tde.py). A TDE-encrypted sandbox backup names the thumbprint of the certificate protecting its
# database encryption key in its manifest ("tde_thumbprint"), as a real backup's header does.
CERTIFICATE_HEADER = b"RDSBOT-SANDBOX-CER/1\n"


def certificate_bytes(subject: str) -> bytes:
    return CERTIFICATE_HEADER + subject.encode() + b"\n"


def certificate_thumbprint(data: bytes | None) -> str | None:
    """The thumbprint of a sandbox .cer, or None when `data` is not one."""
    if not data or not data.startswith(CERTIFICATE_HEADER):
        return None
    return thumbprint_of(data)


def tde_thumbprint(content: Content | None) -> str | None:
    """The certificate a TDE-encrypted sandbox backup needs, by thumbprint; None for an unencrypted one."""
    thumbprint = (content or {}).get("tde_thumbprint")
    return str(thumbprint) if thumbprint else None


def restore_fault(content: Content | None) -> str | None:
    """The task_info a deliberately broken sandbox backup fails its restore with."""
    fault = (content or {}).get("fail_restore")
    return str(fault) if fault else None
