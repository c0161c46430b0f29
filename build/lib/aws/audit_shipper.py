"""The S3 side of the audit trail: write a batch object encrypted at rest, read a day back, link to an object."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from aws.clients import S3_SIGV4
from aws.errors import aws_call
from aws.s3 import S3Backups

# Fewer retries than the restore clients: the outbox keeps the batch and tries again on its next pass anyway.
_RETRIES: dict[str, Any] = {"mode": "standard", "max_attempts": 2}
# Short timeouts for the same reason: the engine thread flushes at each job's end and must not hang on S3.
_TIMEOUTS: dict[str, Any] = {"connect_timeout": 5, "read_timeout": 15}


def audit_s3_client(region: str, session: boto3.Session | None = None) -> Any:
    """An S3 client of its own, so shipping never shows up among (or waits behind) the restore's AWS calls; its
    presigned links are SigV4, which SSE-KMS objects require."""
    session = session or boto3.Session()
    config = Config(region_name=region, retries=_RETRIES, **_TIMEOUTS).merge(S3_SIGV4)
    return session.client("s3", region_name=region, config=config)


class S3AuditSink:
    """AuditSink over one bucket: SSE-S3 (AES256), or SSE-KMS when a key is configured."""

    def __init__(self, s3: Any, bucket: str, kms_key_id: str | None = None) -> None:
        self._s3 = s3
        self.bucket = bucket
        self.kms_key_id = kms_key_id
        self._links = S3Backups(s3)

    @property
    def client(self) -> Any:
        """The boto3 client, for event hooks (fault injection, call recording)."""
        return self._s3

    def put(self, key: str, body: bytes) -> None:
        """Write one object; returns only once S3 has accepted it (AwsError otherwise)."""
        encryption: dict[str, str] = (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id}
            if self.kms_key_id
            else {"ServerSideEncryption": "AES256"}
        )
        with aws_call("PutObject"):
            self._s3.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType="application/x-ndjson", **encryption
            )

    def objects(self, prefix: str) -> list[tuple[str, bytes]]:
        """Every object under `prefix` with its bytes, in key order (the order the chain was shipped in)."""
        keys: list[str] = []
        with aws_call("ListObjectsV2"):
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                keys.extend(item["Key"] for item in page.get("Contents", []))
        found: list[tuple[str, bytes]] = []
        for key in sorted(keys):
            with aws_call("GetObject"):
                found.append((key, self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()))
        return found

    def presigned_url(self, key: str, expires_seconds: int) -> str:
        """A GET link to one object that stops working after `expires_seconds`."""
        return self._links.presigned_url(self.bucket, key, expires_seconds)

    def console_url(self, key_or_prefix: str) -> str:
        """The object or prefix in the S3 console (needs a console login, never expires)."""
        return self._links.console_url(self.bucket, key_or_prefix)

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"
