"""The IAM role RDS assumes to read backups from S3 (and write audit logs), kept to the least it needs."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import unquote

from aws.errors import aws_call, is_not_found
from bot import tags
from bot.errors import AwsError
from bot.ports import RoleSpec

log = logging.getLogger(__name__)

POLICY_NAME = "rdsbot-native-backup-restore"
_VERSION = "2012-10-17"


def trust_policy(account_id: str) -> dict[str, Any]:
    """Only the RDS service may assume the role, and only on behalf of this account (no confused deputy)."""
    return {
        "Version": _VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "rds.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        ],
    }


def access_policy(spec: RoleSpec) -> dict[str, Any]:
    """The inline policy: list and locate the buckets, read and write their objects, use the given KMS keys."""
    buckets = list(dict.fromkeys([*spec.backup_buckets, *([spec.audit_bucket] if spec.audit_bucket else [])]))
    statements: list[dict[str, Any]] = [
        {
            "Sid": "LocateBuckets",
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{b}" for b in buckets],
        },
        {
            "Sid": "ReadWriteBackupObjects",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"],
            "Resource": [f"arn:aws:s3:::{b}/*" for b in buckets],
        },
    ]
    if spec.kms_key_arns:
        statements.append(
            {
                "Sid": "UseBackupKeys",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
                "Resource": list(spec.kms_key_arns),
            }
        )
    return {"Version": _VERSION, "Statement": statements}


class RestoreRoles:
    """RoleGateway over IAM."""

    def __init__(self, iam: Any, sts: Any) -> None:
        self._iam = iam
        self._sts = sts
        self._account_id: str | None = None

    def ensure_restore_role(self, spec: RoleSpec) -> str:
        """The role's ARN; created, or its trust and inline policy brought back in line, as needed."""
        trust = trust_policy(self._account())
        role = self._get_role(spec.role_name)
        if role is None:
            with aws_call("CreateRole"):
                role = self._iam.create_role(
                    RoleName=spec.role_name,
                    AssumeRolePolicyDocument=json.dumps(trust),
                    Description="Lets RDS for SQL Server read native backups from S3 (rdsbot)",
                    Tags=tags.aws_tag_list(tags.MANAGED),
                )["Role"]
            log.info("created IAM role %s", spec.role_name)
        elif _canonical(_document(role["AssumeRolePolicyDocument"])) != _canonical(trust):
            with aws_call("UpdateAssumeRolePolicy"):
                self._iam.update_assume_role_policy(RoleName=spec.role_name, PolicyDocument=json.dumps(trust))
            log.warning("reset the trust policy of IAM role %s to rds.amazonaws.com only", spec.role_name)

        wanted = access_policy(spec)
        current = self._inline_policy(spec.role_name)
        if current is None or _canonical(current) != _canonical(wanted):
            with aws_call("PutRolePolicy"):
                self._iam.put_role_policy(
                    RoleName=spec.role_name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(wanted)
                )
        arn: str = role["Arn"]
        return arn

    def _account(self) -> str:
        if self._account_id is None:
            with aws_call("GetCallerIdentity"):
                self._account_id = str(self._sts.get_caller_identity()["Account"])
        return self._account_id

    def _get_role(self, name: str) -> dict[str, Any] | None:
        try:
            with aws_call("GetRole"):
                role: dict[str, Any] = self._iam.get_role(RoleName=name)["Role"]
        except AwsError as exc:
            if is_not_found(exc):
                return None
            raise
        return role

    def _inline_policy(self, role_name: str) -> dict[str, Any] | None:
        try:
            with aws_call("GetRolePolicy"):
                document = self._iam.get_role_policy(RoleName=role_name, PolicyName=POLICY_NAME)["PolicyDocument"]
        except AwsError as exc:
            if is_not_found(exc):
                return None
            raise
        return _document(document)


def _document(value: Any) -> dict[str, Any]:
    # boto3 decodes policy documents into dicts; a raw IAM answer is URL-encoded JSON.
    if isinstance(value, str):
        parsed: dict[str, Any] = json.loads(unquote(value))
        return parsed
    return dict(value)


def _canonical(value: Any) -> Any:
    """A policy with list order and one-item lists normalised, so equal policies compare equal."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = sorted((_canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
        return items[0] if len(items) == 1 else items
    return value
