"""The IAM roles RDS assumes for SQL Server: one reads backups from S3, the other writes SQL Server audit files.

Each gets the least its option needs, and the two never share a document: the restore role cannot write anywhere,
the audit role can write only under the audit key prefix (never rdsbot's own trail, see bot.names).
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import unquote

from aws.backup_role import BackupRoleGrants
from aws.errors import aws_call, is_not_found
from aws.identity import CallerIdentity
from bot import tags
from bot.errors import AwsError, StageError
from bot.ports import AuditRoleSpec, RolePlacement, RoleSpec
from bot.role_needs import (
    RESTORE_BUCKET_ACTIONS,
    RESTORE_KMS_ACTIONS,
    RESTORE_OBJECT_ACTIONS,
    TDE_ACCOUNT_ACTIONS,
    TDE_BUCKET_ACTIONS,
    managed_role,
)

log = logging.getLogger(__name__)

POLICY_NAME = "rdsbot-native-backup-restore"
AUDIT_POLICY_NAME = "rdsbot-sqlserver-audit"
_VERSION = "2012-10-17"
# AWS guide "Appendix.SQLServer.Options.Audit.IAM": ListAllMyBuckets on *, bucket ACL and location on the
# bucket, PutObject on the key prefix.
AUDIT_BUCKET_ACTIONS = ("s3:GetBucketAcl", "s3:GetBucketLocation")
AUDIT_OBJECT_ACTIONS = ("s3:PutObject",)


def trust_policy(partition: str, account_id: str, placement: RolePlacement) -> dict[str, Any]:
    """Only the RDS service may assume the role, for this account's instances and option groups (no confused
    deputy: AWS guide "UsingWithRDS.IAM.Conditions" / native backup "Enabling": aws:SourceAccount and
    aws:SourceArn). The region is `*`: IAM is global and one role serves every allowed region."""
    return {
        "Version": _VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "rds.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {
                        "aws:SourceArn": [
                            f"arn:{partition}:rds:*:{account_id}:{resource}" for resource in placement.source_resources
                        ]
                    },
                },
            }
        ],
    }


def access_policy(spec: RoleSpec) -> dict[str, Any]:
    """The restore role's inline policy: locate and list the backup buckets, read their objects, use the keys."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "LocateBackupBuckets",
            "Effect": "Allow",
            "Action": list(RESTORE_BUCKET_ACTIONS),
            "Resource": [f"arn:aws:s3:::{b}" for b in spec.backup_buckets],
        },
        {
            "Sid": "ReadBackupObjects",
            "Effect": "Allow",
            "Action": list(RESTORE_OBJECT_ACTIONS),
            "Resource": [f"arn:aws:s3:::{b}/*" for b in spec.backup_buckets],
        },
    ]
    if spec.kms_key_arns:
        statements.append(
            {
                "Sid": "UseBackupKeys",
                "Effect": "Allow",
                "Action": list(RESTORE_KMS_ACTIONS),
                "Resource": list(spec.kms_key_arns),
            }
        )
    if spec.tde:
        statements += [
            {
                "Sid": "FindTdeCertificateBuckets",
                "Effect": "Allow",
                "Action": list(TDE_ACCOUNT_ACTIONS),
                "Resource": "*",
            },
            {
                "Sid": "CheckTdeCertificateBuckets",
                "Effect": "Allow",
                "Action": list(TDE_BUCKET_ACTIONS),
                "Resource": [f"arn:aws:s3:::{b}" for b in spec.backup_buckets],
            },
        ]
    return {"Version": _VERSION, "Statement": statements}


def audit_access_policy(spec: AuditRoleSpec) -> dict[str, Any]:
    """The audit role's inline policy: write under the SQL Server audit prefix, and what RDS checks first."""
    return {
        "Version": _VERSION,
        "Statement": [
            {"Sid": "FindTheBucket", "Effect": "Allow", "Action": ["s3:ListAllMyBuckets"], "Resource": "*"},
            {
                "Sid": "CheckTheAuditBucket",
                "Effect": "Allow",
                "Action": list(AUDIT_BUCKET_ACTIONS),
                "Resource": f"arn:aws:s3:::{spec.bucket}",
            },
            {
                "Sid": "WriteSqlServerAuditFiles",
                "Effect": "Allow",
                "Action": list(AUDIT_OBJECT_ACTIONS),
                "Resource": f"arn:aws:s3:::{spec.bucket}/{spec.key_prefix}/*",
            },
        ],
    }


class RestoreRoles(BackupRoleGrants):
    """RoleGateway over IAM (the backup grants in aws/backup_role.py)."""

    def __init__(self, iam: Any, identity: CallerIdentity) -> None:
        self._iam = iam
        self._identity = identity

    def ensure_restore_role(self, spec: RoleSpec) -> str:
        """The restore role's ARN; created, or its trust, boundary and inline policy brought back in line."""
        return self._ensure(
            spec.role_name,
            spec.placement,
            "Lets RDS for SQL Server read native backups from S3 (rdsbot)",
            POLICY_NAME,
            access_policy(spec),
        )

    def ensure_audit_role(self, spec: AuditRoleSpec) -> str:
        """The SQL Server audit role's ARN; created, or brought back in line, as needed."""
        return self._ensure(
            spec.role_name,
            spec.placement,
            "Lets RDS for SQL Server write SQL Server Audit files to S3 (rdsbot)",
            AUDIT_POLICY_NAME,
            audit_access_policy(spec),
        )

    def _ensure(
        self, name: str, placement: RolePlacement, description: str, policy_name: str, wanted: dict[str, Any]
    ) -> str:
        trust = trust_policy(self._identity.partition(), self._identity.account_id(), placement)
        role = self._get_role(name)
        if role is None:
            extra: dict[str, Any] = {}
            if placement.permissions_boundary_arn:
                extra["PermissionsBoundary"] = placement.permissions_boundary_arn
            with aws_call("CreateRole"):
                role = self._iam.create_role(
                    RoleName=name,
                    Path=placement.path,
                    AssumeRolePolicyDocument=json.dumps(trust),
                    Description=description,
                    Tags=tags.aws_tag_list(tags.MANAGED),
                    **extra,
                )["Role"]
            log.info("created IAM role %s%s", placement.path, name)
        else:
            _check_changeable(role, placement)
            self._align(role, trust, placement)

        # An upgrade lands here too: a role made by an older rdsbot loses whatever the current document lacks
        # (the restore role's s3:PutObject, the audit bucket).
        current = self._inline_policy(name, policy_name)
        if current is None or _canonical(current) != _canonical(wanted):
            with aws_call("PutRolePolicy"):
                self._iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(wanted))
        arn: str = role["Arn"]
        return arn

    def _align(self, role: dict[str, Any], trust: dict[str, Any], placement: RolePlacement) -> None:
        """An existing role's trust and boundary set back to rdsbot's (a role's path cannot change: kept)."""
        name = role["RoleName"]
        if _canonical(_document(role["AssumeRolePolicyDocument"])) != _canonical(trust):
            with aws_call("UpdateAssumeRolePolicy"):
                self._iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
            log.warning("reset the trust policy of IAM role %s to rds.amazonaws.com only", name)
        boundary = role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
        if placement.permissions_boundary_arn and boundary != placement.permissions_boundary_arn:
            with aws_call("PutRolePermissionsBoundary"):
                self._iam.put_role_permissions_boundary(
                    RoleName=name, PermissionsBoundary=placement.permissions_boundary_arn
                )
            log.warning("set the permissions boundary of IAM role %s", name)

    def _get_role(self, name: str) -> dict[str, Any] | None:
        try:
            with aws_call("GetRole"):
                role: dict[str, Any] = self._iam.get_role(RoleName=name)["Role"]
        except AwsError as exc:
            if is_not_found(exc):
                return None
            raise
        return role

    def _inline_policy(self, role_name: str, policy_name: str) -> dict[str, Any] | None:
        try:
            with aws_call("GetRolePolicy"):
                document = self._iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
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


def _check_changeable(role: dict[str, Any], placement: RolePlacement) -> None:
    """A role found by name outside the ARNs rdsbot's IAM policy lets it change (a roles.path changed after it was
    made, or one made by hand elsewhere) is refused in plain words: IAM would answer PutRolePolicy with AccessDenied,
    and a role's path cannot be changed, only the role made again (IAM API reference, 'API_CreateRole', Path)."""
    if not managed_role(role["Arn"], placement.path):
        raise StageError(
            f"IAM role {role['RoleName']} exists at path {role.get('Path', '/')}, outside roles.path "
            f"{placement.path} where rdsbot's IAM policy lets it change roles; IAM cannot move a role: delete it "
            "(rdsbot makes it again under roles.path) or set roles.path back to its path"
        )
