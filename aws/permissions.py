"""Every AWS call the aws/ layer makes, the IAM action it needs, and the actions AWS implies for it.

Pure data, read by tests (tests/unit/test_deploy_documents.py) that keep config/rdsbot-iam-policy.json complete:
AWS checks some permissions only when a call carries a certain parameter, and no stand-in checks them, so they
are written down here with the document they come from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Implied:
    """Actions the caller also needs when a call `when`..., per the AWS document `source`."""

    when: str
    actions: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Call:
    action: str | None  # None: no request is made (presigning, client metadata)
    implied: tuple[Implied, ...] = ()


_TAG_ON_CREATE_RDS = Implied(
    "passes Tags", ("rds:AddTagsToResource",), "AWS guide RDS 'USER_Tagging' (tag on create needs AddTagsToResource)"
)

# boto3 "<service>:<method>" -> what IAM checks.
CALLS: dict[str, Call] = {
    "ec2:authorize_security_group_ingress": Call("ec2:AuthorizeSecurityGroupIngress"),
    "ec2:create_security_group": Call(
        "ec2:CreateSecurityGroup",
        (
            Implied(
                "passes TagSpecifications",
                ("ec2:CreateTags",),
                "AWS EC2 guide 'supported-iam-actions-tagging' (tag on create needs ec2:CreateTags)",
            ),
        ),
    ),
    "ec2:delete_security_group": Call("ec2:DeleteSecurityGroup"),
    "ec2:describe_security_group_rules": Call("ec2:DescribeSecurityGroupRules"),
    "ec2:describe_security_groups": Call("ec2:DescribeSecurityGroups"),
    "ec2:describe_subnets": Call("ec2:DescribeSubnets"),
    "ec2:describe_vpcs": Call("ec2:DescribeVpcs"),
    "ec2:revoke_security_group_ingress": Call("ec2:RevokeSecurityGroupIngress"),
    "iam:create_role": Call(
        "iam:CreateRole",
        (Implied("passes Tags", ("iam:TagRole",), "AWS IAM guide 'id_tags_roles' (CreateRole with tags)"),),
    ),
    "iam:get_group": Call("iam:GetGroup"),  # the doctor: who is in the admin group
    "iam:get_account_authorization_details": Call("iam:GetAccountAuthorizationDetails"),
    "iam:get_role": Call("iam:GetRole"),
    "iam:get_role_policy": Call("iam:GetRolePolicy"),
    "iam:list_groups_for_user": Call("iam:ListGroupsForUser"),
    # The doctor, /rds-backup and a TDE --into restore for an option group role rdsbot does not manage; evaluates only.
    "iam:simulate_principal_policy": Call("iam:SimulatePrincipalPolicy"),
    "iam:put_role_permissions_boundary": Call("iam:PutRolePermissionsBoundary"),
    "iam:put_role_policy": Call("iam:PutRolePolicy"),
    "iam:update_assume_role_policy": Call("iam:UpdateAssumeRolePolicy"),
    "rds:create_db_instance": Call(
        "rds:CreateDBInstance",
        (
            Implied(
                "sets ManageMasterUserPassword",
                ("secretsmanager:CreateSecret", "secretsmanager:TagResource", "kms:DescribeKey"),
                "AWS guide 'rds-secrets-manager' (permissions required for Secrets Manager integration)",
            ),
            Implied(
                "sets KmsKeyId (storage encryption with a customer managed key)",
                ("kms:CreateGrant", "kms:DescribeKey"),
                "AWS guide 'Overview.Encryption.Keys' (RDS needs a grant on the key, made as the caller)",
            ),
            _TAG_ON_CREATE_RDS,
        ),
    ),
    "rds:create_db_subnet_group": Call("rds:CreateDBSubnetGroup", (_TAG_ON_CREATE_RDS,)),
    "rds:create_option_group": Call("rds:CreateOptionGroup", (_TAG_ON_CREATE_RDS,)),
    "rds:delete_db_instance": Call(
        "rds:DeleteDBInstance",
        (
            Implied(
                "names FinalDBSnapshotIdentifier (lifecycle.final_snapshot; CopyTagsToSnapshot copies the tags to it)",
                ("rds:CreateDBSnapshot", "rds:AddTagsToResource"),
                "AWS API reference 'API_DeleteDBInstance' (the final snapshot is made as the caller); tags copied "
                "onto it are authorized as rds:AddTagsToResource on the snapshot (AccessDenied without it, "
                "YaleSpinup/rds-api v0.19.2)",
            ),
        ),
    ),
    "rds:delete_db_subnet_group": Call("rds:DeleteDBSubnetGroup"),
    "rds:delete_option_group": Call("rds:DeleteOptionGroup"),
    "rds:describe_account_attributes": Call("rds:DescribeAccountAttributes"),  # the doctor: quota
    "rds:describe_db_instances": Call("rds:DescribeDBInstances"),
    "rds:describe_db_subnet_groups": Call("rds:DescribeDBSubnetGroups"),
    "rds:describe_option_groups": Call("rds:DescribeOptionGroups"),
    "rds:describe_option_group_options": Call("rds:DescribeOptionGroupOptions"),  # the doctor
    "rds:describe_orderable_db_instance_options": Call("rds:DescribeOrderableDBInstanceOptions"),
    # An --into instance's new option group (OptionGroupName): IAM authorizes it on the db and on the og resource
    # (Service Authorization Reference 'list_amazonrds', ModifyDBInstance: db*, og), so the shipped policy names
    # both, the og as rdsbot-into-* only.
    "rds:modify_db_instance": Call("rds:ModifyDBInstance"),
    "rds:modify_db_subnet_group": Call("rds:ModifyDBSubnetGroup"),
    "rds:modify_option_group": Call(
        "rds:ModifyOptionGroup",
        (
            Implied(
                "names an IAM_ROLE_ARN (SQLSERVER_BACKUP_RESTORE, SQLSERVER_AUDIT)",
                ("iam:PassRole",),
                "AWS IAM guide 'id_roles_use_passrole'; RDS guide 'SQLServer.Procedural.Importing.Native.Enabling'",
            ),
        ),
    ),
    # The doctor's read-only checks of the audit bucket (aws/readiness/buckets.py).
    "s3:get_bucket_versioning": Call("s3:GetBucketVersioning"),
    "s3:get_object_lock_configuration": Call("s3:GetBucketObjectLockConfiguration"),
    "s3:get_public_access_block": Call("s3:GetBucketPublicAccessBlock"),
    "s3:generate_presigned_url": Call(None),
    "s3:get_bucket_location": Call("s3:GetBucketLocation"),
    # Also the TDE .cer (bot/preflight.py), read only when it is not under SSE-KMS, so no backup key is needed.
    "s3:get_object": Call(
        "s3:GetObject",
        (
            Implied(
                "reads an SSE-KMS object (the trail, for audit verify --from-s3)",
                ("kms:Decrypt",),
                "AWS S3 guide 'UsingKMSEncryption' (GetObject of an SSE-KMS object needs kms:Decrypt)",
            ),
        ),
    ),
    "s3:head_object": Call("s3:GetObject"),  # S3 API reference 'API_HeadObject': HEAD needs s3:GetObject
    "s3:list_objects_v2": Call("s3:ListBucket"),  # S3 API reference 'API_ListObjectsV2'
    "s3:meta": Call(None),
    "s3:put_object": Call(
        "s3:PutObject",
        (
            Implied(
                "writes with SSE-KMS (audit.kms_key_id)",
                ("kms:GenerateDataKey",),
                "AWS S3 guide 'UsingKMSEncryption' (PutObject with SSE-KMS needs kms:GenerateDataKey)",
            ),
            Implied(
                "sets ObjectLockMode and ObjectLockRetainUntilDate (audit.object_lock)",
                ("s3:PutObjectRetention",),
                "AWS S3 guide 'object-lock-managing' and API reference 'API_PutObject' (retention on upload)",
            ),
        ),
    ),
    "secretsmanager:get_secret_value": Call("secretsmanager:GetSecretValue"),
    "sts:get_caller_identity": Call("sts:GetCallerIdentity"),
}


def needed_actions() -> set[str]:
    """Every action the bot's IAM policy must allow: each call's own and every implied one."""
    actions = {call.action for call in CALLS.values() if call.action}
    actions |= {action for call in CALLS.values() for implied in call.implied for action in implied.actions}
    return actions
