"""What the option group's role needs to write a /rds-backup destination (AWS guide
"SQLServer.Procedural.Importing.Native.Enabling": s3:PutObject, s3:ListMultipartUploadParts, s3:AbortMultipartUpload
on the objects, s3:ListBucket and s3:GetBucketLocation on the bucket, kms:DescribeKey, kms:GenerateDataKey and
kms:Encrypt on a backup key): granted to a role rdsbot manages, evaluated on one it does not (and, for an --into
TDE restore, what importing the certificate needs: bot/role_needs.py)."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from aws.errors import aws_call
from bot.backup_target import BACKUP_BUCKET_ACTIONS, BACKUP_KMS_ACTIONS, BACKUP_OBJECT_ACTIONS, BackupGrant
from bot.errors import AwsError
from bot.role_evaluation import RoleGaps, SimulatedPermission
from bot.role_needs import RoleNeeds

log = logging.getLogger(__name__)
POLICY_PREFIX = "rdsbot-backup-to-"


# One statement per action group of BackupGrant.resources(), named for what it lets the role do.
_STATEMENT_IDS = {
    BACKUP_OBJECT_ACTIONS: "WriteTheBackup",
    BACKUP_BUCKET_ACTIONS: "FindTheBucket",
    BACKUP_KMS_ACTIONS: "EncryptTheBackup",
}


def grant_policy(grant: BackupGrant) -> dict[str, Any]:
    """The inline policy that lets the role write one destination (and use its backup key): exactly what
    BackupGrant.resources() says the role needs, which is also what a role rdsbot does not manage is checked for."""
    statements = [
        {
            "Sid": _STATEMENT_IDS[actions],
            "Effect": "Allow",
            "Action": list(actions),
            "Resource": resources[0] if len(resources) == 1 else list(resources),
        }
        for actions, resources in grant.resources().items()
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def policy_name(grant: BackupGrant) -> str:
    """One inline policy per destination pattern and key: granting one never widens another's."""
    digest = hashlib.sha256(f"{grant.bucket}|{grant.object_pattern}|{grant.kms_key_arn or ''}".encode()).hexdigest()
    return POLICY_PREFIX + digest[:16]


def role_name(role_arn: str) -> str:
    return role_arn.rsplit("/", 1)[-1]


class BackupRoleGrants:
    """The backup half of the RoleGateway over IAM."""

    def __init__(self, iam: Any) -> None:
        self._iam = iam

    def grant_backup_writes(self, role_arn: str, grant: BackupGrant) -> None:
        """PutRolePolicy with a deterministic name: sending it again changes nothing."""
        with aws_call("PutRolePolicy"):
            self._iam.put_role_policy(
                RoleName=role_name(role_arn),
                PolicyName=policy_name(grant),
                PolicyDocument=json.dumps(grant_policy(grant)),
            )
        log.info("role %s may write s3://%s/%s", role_arn, grant.bucket, grant.object_pattern)

    def missing_permissions(self, role_arn: str, needs: RoleNeeds) -> RoleGaps | None:
        """iam:SimulatePrincipalPolicy for each needed action, sorted into what refuses and what a key or bucket
        policy may still grant (bot/role_evaluation.py); None when IAM cannot answer (not allowed to ask)."""
        simulated: list[SimulatedPermission] = []
        try:
            for actions, resources in needs.resources().items():
                with aws_call("SimulatePrincipalPolicy"):
                    pages = self._iam.get_paginator("simulate_principal_policy").paginate(
                        PolicySourceArn=role_arn, ActionNames=list(actions), ResourceArns=list(resources)
                    )
                    results = [r for page in pages for r in page.get("EvaluationResults", [])]
                simulated += [
                    SimulatedPermission(
                        r["EvalActionName"], r.get("EvalResourceName", resources[0]), r.get("EvalDecision", "")
                    )
                    for r in results
                ]
        except AwsError as exc:
            log.warning("cannot evaluate %s: %s", role_arn, exc)
            return None
        return RoleGaps.from_simulation(simulated)
