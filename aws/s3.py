"""Backups in S3: resolve a location to the objects RDS will read, find the newest backup, link to it."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aws.errors import aws_call, is_not_found
from bot.domain import BackupLocation, BackupSet
from bot.errors import AwsError, RequestError
from bot.restore_chain import ListedObject
from bot.tde import StoredObject

MAX_FILES = 10  # rds_restore_database refuses more files than this in one restore

# Striped (multi-file) backups. RDS native backup names its stripes `<prefix><i>-of-<n>.bak`; people and tools
# also write `<prefix>_<i>.bak`. The index has no leading zero so dated names like `sales_2024_01.bak` stay single.
_OF_N = re.compile(r"(?P<prefix>.*?)(?P<index>[1-9]\d?)-of-(?P<count>[1-9]\d?)\.bak", re.IGNORECASE)
_UNDERSCORE = re.compile(r"(?P<prefix>.*_)(?P<index>[1-9]\d?)\.bak", re.IGNORECASE)


@dataclass(frozen=True)
class _Object:
    key: str
    size: int
    modified: datetime


@dataclass(frozen=True)
class _Candidate:
    keys: tuple[str, ...]
    size: int
    modified: datetime


def _sse_kms_keys(heads: list[dict[str, Any]]) -> tuple[str, ...]:
    """The SSE-KMS (or DSSE-KMS) keys HeadObject reports for the objects, each once, sorted."""
    keys = {
        str(head["SSEKMSKeyId"])
        for head in heads
        if str(head.get("ServerSideEncryption", "")).startswith("aws:kms") and head.get("SSEKMSKeyId")
    }
    return tuple(sorted(keys))


def multi_file_prefix(backup: BackupSet) -> str:
    """The prefix that, followed by `*`, names exactly this set's files for rds_restore_database."""
    # Character by character on purpose: `sales_1.bak`, `sales_2.bak` share `sales_`, not a path component.
    return os.path.commonprefix(list(backup.keys)) if len(backup.keys) > 1 else backup.keys[0]  # noqa: RUF071


class S3Backups:
    """BackupStore over S3."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3
        self._regions: dict[str, str] = {}

    def resolve(self, location: BackupLocation, default_bucket: str | None) -> BackupSet:
        """The object(s) behind a location; RequestError(field='backup') when missing or more than 10 files."""
        bucket = location.bucket or default_bucket
        if not bucket:
            raise RequestError(
                "backup", "no bucket given and the policy names no default bucket", "write s3://bucket/key"
            )
        url = location.display(bucket)
        region = self.bucket_region(bucket)
        if location.multi_file:
            objects = self._list(bucket, location.key, limit=MAX_FILES + 1)
            if not objects:
                raise RequestError("backup", f"no objects match {url}")
            if len(objects) > MAX_FILES:
                raise RequestError(
                    "backup",
                    f"more than {MAX_FILES} files match {url}; RDS restores at most {MAX_FILES} files in one restore",
                    "use a longer prefix that matches only this backup's files",
                )
            keys = tuple(sorted(o.key for o in objects))
            # A listing says nothing of encryption: each file's HeadObject does (at most 10 of them).
            heads = [self._head(bucket, key, url) for key in keys]
            return BackupSet(
                bucket=bucket,
                keys=keys,
                total_bytes=sum(o.size for o in objects),
                region=region,
                kms_key_arns=_sse_kms_keys(heads),
                last_modified=max(o.modified for o in objects),
            )
        head = self._head(bucket, location.key, url)
        return BackupSet(
            bucket=bucket,
            keys=(location.key,),
            total_bytes=int(head["ContentLength"]),
            region=region,
            kms_key_arns=_sse_kms_keys([head]),
            # The HeadObject already made answers it: the approver weighs how old the backup is.
            last_modified=head.get("LastModified"),
        )

    def _head(self, bucket: str, key: str, url: str, field: str = "backup") -> dict[str, Any]:
        try:
            with aws_call("HeadObject"):
                head: dict[str, Any] = self._s3.head_object(Bucket=bucket, Key=key)
        except AwsError as exc:
            if is_not_found(exc):
                raise RequestError(field, f"{url} does not exist", "check the key, or list the bucket") from None
            raise
        return head

    def existing_objects(self, bucket: str, keys: tuple[str, ...]) -> dict[str, int]:
        """Those of `keys` that exist, with their sizes (HeadObject each; a 404 is an absent key)."""
        found: dict[str, int] = {}
        for key in keys:
            try:
                with aws_call("HeadObject"):
                    head = self._s3.head_object(Bucket=bucket, Key=key)
            except AwsError as exc:
                if is_not_found(exc):
                    continue
                raise
            found[key] = int(head["ContentLength"])
        return found

    def head_object(self, bucket: str, key: str, field: str) -> StoredObject:
        """One object's region, SSE-KMS key and the names of its user metadata; the values are never kept (the
        .pvk's x-amz-meta-rds-tde-pwd is an encrypted password)."""
        try:
            region = self.bucket_region(bucket)
        except RequestError as exc:
            raise RequestError(field, exc.message, exc.hint) from None
        head = self._head(bucket, key, f"s3://{bucket}/{key}", field)
        keys = _sse_kms_keys([head])
        return StoredObject(
            region=region,
            kms_key_arn=keys[0] if keys else None,
            metadata_names=frozenset(str(name).lower() for name in head.get("Metadata", {})),
            size=int(head.get("ContentLength", 0)),
        )

    def read_object(self, bucket: str, key: str) -> bytes:
        with aws_call("GetObject"):
            body: bytes = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def latest_backup(self, bucket: str, prefix: str) -> BackupSet | None:
        """The newest .bak under `prefix` by LastModified, a striped set counting as one backup; None if none.

        A striped set is files `<p>1-of-<n>.bak`..`<p><n>-of-<n>.bak`, or `<p>_1.bak`..`<p>_<n>.bak`, with every
        index from 1 to n present (2 <= n <= 10, no leading zeros) and no other object whose key starts with the
        set's restore prefix (`<p>`, resp. `<p>_`), since `prefix*` would make RDS read that object too.
        Its time is its newest file's. An incomplete or ambiguous `-of-<n>` set (n >= 2) is skipped, as it cannot be
        restored; files of an incomplete `_<i>` group are ordinary single backups. Ties go to the greater key.
        """
        region = self.bucket_region(bucket)
        candidates = self._candidates(bucket, prefix, self._list(bucket, prefix))
        if not candidates:
            return None
        newest = max(candidates, key=lambda c: (c.modified, c.keys))
        return BackupSet(
            bucket=bucket, keys=newest.keys, total_bytes=newest.size, region=region, last_modified=newest.modified
        )

    def list_objects(self, bucket: str, prefix: str) -> list[ListedObject]:
        """Every object under the prefix with its LastModified."""
        return [ListedObject(key=o.key, modified=o.modified) for o in self._list(bucket, prefix)]

    def console_url(self, bucket: str, key_or_prefix: str) -> str:
        """A link to the object or prefix in the S3 console."""
        region = self._regions.get(bucket) or self._s3.meta.region_name
        query = urlencode({"prefix": key_or_prefix.rstrip("*"), "region": region})
        return f"https://s3.console.aws.amazon.com/s3/buckets/{bucket}?{query}"

    def presigned_url(self, bucket: str, key: str, expires_seconds: int = 900) -> str:
        """A time-limited GET link to one object."""
        with aws_call("GeneratePresignedUrl"):
            url: str = self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_seconds
            )
        return url

    def bucket_region(self, bucket: str) -> str:
        """The bucket's region; RequestError(field='backup') when the bucket does not exist."""
        if bucket in self._regions:
            return self._regions[bucket]
        try:
            with aws_call("GetBucketLocation"):
                constraint = self._s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
        except AwsError as exc:
            if is_not_found(exc):
                raise RequestError("backup", f"bucket {bucket} does not exist") from None
            raise
        # S3 reports us-east-1 as no constraint, and the oldest eu-west-1 buckets as "EU".
        region = str({None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(constraint, constraint))
        self._regions[bucket] = region
        return region

    def _list(self, bucket: str, prefix: str, limit: int | None = None) -> list[_Object]:
        # A limit stops a too-broad prefix from walking a whole bucket just to say "too many".
        paginator = self._s3.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=bucket, Prefix=prefix, PaginationConfig={"MaxItems": limit})
        objects: list[_Object] = []
        with aws_call("ListObjectsV2"):
            for page in pages:
                for item in page.get("Contents", []):
                    objects.append(_Object(item["Key"], int(item["Size"]), item["LastModified"]))
        return objects

    def _candidates(self, bucket: str, prefix: str, objects: list[_Object]) -> list[_Candidate]:
        singles: list[_Object] = []
        groups: dict[tuple[str, int | None], list[tuple[int, _Object]]] = {}
        for obj in objects:
            if not obj.key.lower().endswith(".bak"):
                continue
            key: tuple[str, int | None]
            match = _OF_N.fullmatch(obj.key)
            if match:
                key = (match["prefix"], int(match["count"]))
            else:
                match = _UNDERSCORE.fullmatch(obj.key)
                if not match:
                    singles.append(obj)
                    continue
                key = (match["prefix"], None)
            groups.setdefault(key, []).append((int(match["index"]), obj))

        candidates = [_Candidate((o.key,), o.size, o.modified) for o in singles]
        for (set_prefix, count), members in groups.items():
            members.sort(key=lambda m: m[0])
            files = [o for _, o in members]
            if self._is_complete_set(bucket, prefix, objects, set_prefix, count, members):
                size = sum(o.size for o in files)
                candidates.append(_Candidate(tuple(o.key for o in files), size, max(o.modified for o in files)))
            elif count in (None, 1):  # `x1-of-1.bak` is a whole backup too
                candidates.extend(_Candidate((o.key,), o.size, o.modified) for o in files)
        return candidates

    def _is_complete_set(
        self,
        bucket: str,
        prefix: str,
        objects: list[_Object],
        set_prefix: str,
        count: int | None,
        members: list[tuple[int, _Object]],
    ) -> bool:
        indexes = [i for i, _ in members]
        expected = count if count is not None else len(members)
        if not 2 <= expected <= MAX_FILES or indexes != list(range(1, expected + 1)):
            return False
        # `<set_prefix>*` must match nothing else; when the set's prefix is shorter than the listed one,
        # objects outside the listing could share it, so look them up.
        sharing = objects if set_prefix.startswith(prefix) else self._list(bucket, set_prefix, limit=MAX_FILES + 1)
        return sum(1 for o in sharing if o.key.startswith(set_prefix)) == expected
