"""The policy's buckets: backup buckets exist, sit in an allowed region and are readable; the audit bucket exists
in the default region and the bot's account, blocks public access, and its versioning / Object Lock is reported.

AWS: "Setting up an S3 bucket" for SQL Server Audit (RDS user guide, Appendix.SQLServer.Options.Audit.S3bucket):
the bucket must be in the same region and account as the instance and must not be public. GetBucketLocation
answers no constraint for us-east-1. ExpectedBucketOwner makes S3 refuse (403) a bucket of another account.
S3 API "GetPublicAccessBlock" (needs s3:GetBucketPublicAccessBlock): S3 applies the most restrictive of the bucket's
and the account's settings; only the bucket's are read here, so an account-wide block alone still reads as a FAIL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws.errors import aws_call, is_not_found
from bot.doctor import CheckResult, fail, ok, warn
from bot.errors import AwsError
from config.policy_model import Policy

_PUBLIC_ACCESS_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


class BucketChecks:
    def __init__(self, s3: Any, policy: Policy, account: Callable[[], str | None]) -> None:
        self._s3 = s3
        self._policy = policy
        self._account = account  # the bot's account id, None when unknown

    def _owner(self) -> dict[str, str]:
        account = self._account()
        return {"ExpectedBucketOwner": account} if account else {}

    def _region(self, bucket: str) -> str:
        with aws_call("GetBucketLocation"):
            answer = self._s3.get_bucket_location(Bucket=bucket, **self._owner())
        return str(answer.get("LocationConstraint") or "us-east-1")

    def _missing(self, check: str, bucket: str, exc: AwsError, region: str) -> CheckResult:
        if is_not_found(exc):
            fix = f"aws s3api create-bucket --bucket {bucket} --region {region}, or name an existing bucket"
            return fail("buckets", check, f"s3://{bucket}", f"does not exist ({exc.code})", fix)
        fix = f"grant s3:GetBucketLocation on arn:aws:s3:::{bucket} to the bot, in the bot's own account"
        return fail("buckets", check, f"s3://{bucket}", f"not readable: {exc}", fix)

    def backup_buckets(self) -> list[CheckResult]:
        results = []
        allowed = self._policy.region.allowed
        for bucket in self._policy.backups.buckets:
            try:
                region = self._region(bucket)
            except AwsError as exc:
                results.append(self._missing("backup bucket", bucket, exc, self._policy.region.default))
                continue
            subject = f"s3://{bucket} ({region})"
            if region not in allowed:
                fix = f"add {region} to region.allowed, or keep backups in {', '.join(allowed)}"
                results.append(fail("buckets", "backup bucket", subject, "not in an allowed region", fix))
                continue
            try:
                with aws_call("ListObjectsV2"):
                    listed = self._s3.list_objects_v2(Bucket=bucket, MaxKeys=1, **self._owner())
            except AwsError as exc:
                fix = f"grant s3:ListBucket on arn:aws:s3:::{bucket} to the bot (config/rdsbot-iam-policy.json)"
                results.append(fail("buckets", "backup bucket", subject, f"cannot list: {exc}", fix))
                continue
            seen = "readable, holds objects" if listed.get("KeyCount", 0) else "readable, empty"
            results.append(ok("buckets", "backup bucket", subject, seen))
        return results

    def audit_bucket(self) -> list[CheckResult]:
        bucket = self._policy.audit.bucket
        if not bucket:
            return [warn("buckets", "audit bucket", "audit.bucket", "not set: no SQLSERVER_AUDIT, no S3 trail")]
        default = self._policy.region.default
        try:
            region = self._region(bucket)
        except AwsError as exc:
            return [self._missing("audit bucket", bucket, exc, default)]
        subject = f"s3://{bucket} ({region})"
        if region != default:
            fix = f"use an audit bucket in {default} (SQL Server Audit ships only within the instance's region)"
            return [fail("buckets", "audit bucket", subject, f"not in {default}", fix)]
        return [
            ok("buckets", "audit bucket", subject, "exists"),
            self._public_access(bucket, subject),
            self._locks(bucket, subject),
        ]

    def _public_access(self, bucket: str, subject: str) -> CheckResult:
        fix = f"aws s3api put-public-access-block --bucket {bucket} --public-access-block-configuration " + ",".join(
            f"{flag}=true" for flag in _PUBLIC_ACCESS_FLAGS
        )
        try:
            with aws_call("GetPublicAccessBlock"):
                config = self._s3.get_public_access_block(Bucket=bucket, **self._owner())
        except AwsError as exc:
            if exc.code == "NoSuchPublicAccessBlockConfiguration":
                return fail("buckets", "audit bucket public access", subject, "no public access block", fix)
            return warn("buckets", "audit bucket public access", subject, f"could not read: {exc}", fix)
        flags = config.get("PublicAccessBlockConfiguration", {})
        off = [flag for flag in _PUBLIC_ACCESS_FLAGS if not flags.get(flag)]
        if off:
            return fail("buckets", "audit bucket public access", subject, f"off: {', '.join(off)}", fix)
        return ok("buckets", "audit bucket public access", subject, "all four blocks on")

    def _locks(self, bucket: str, subject: str) -> CheckResult:
        with aws_call("GetBucketVersioning"):
            versioning = str(self._s3.get_bucket_versioning(Bucket=bucket, **self._owner()).get("Status") or "off")
        try:
            with aws_call("GetObjectLockConfiguration"):
                lock = self._s3.get_object_lock_configuration(Bucket=bucket, **self._owner())
            locked = lock.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
        except AwsError:
            locked = False  # ObjectLockConfigurationNotFoundError: the bucket was made without Object Lock
        detail = f"versioning {versioning}, Object Lock {'on' if locked else 'off'}"
        if locked:
            # Not in the audit-bucket page of the guide, but seen to stop SQLSERVER_AUDIT uploads (FACTS.md).
            return warn("buckets", "audit bucket locks", subject, detail + ": SQLSERVER_AUDIT may not upload to it")
        return ok("buckets", "audit bucket locks", subject, detail)
