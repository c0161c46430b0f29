"""The shipped IAM documents, read statically: the scoping moto cannot evaluate (ARNs off S3, conditions)."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

from aws.iam import access_policy, audit_access_policy
from bot import names
from bot.audit_layout import LEGACY, TrailLayout
from bot.ports import AuditRoleSpec, RoleSpec
from bot.role_needs import managed_role, managed_role_arn_patterns

ROOT = Path(__file__).resolve().parents[2]
TAGGED = {"StringEquals": {"aws:ResourceTag/managed-by": "rdsbot"}}


def document(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "config" / name).read_text())
    return loaded


def statements_with(policy: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in policy["Statement"] if action in s["Action"]]


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def allows(policy: dict[str, Any], action: str, resource: str) -> bool:
    """IAM's rule without conditions: some Allow matches action and resource, and no Deny does."""

    def matches(statement: dict[str, Any]) -> bool:
        return any(fnmatch.fnmatchcase(action, a) for a in _listed(statement["Action"])) and any(
            fnmatch.fnmatchcase(resource, r) for r in _listed(statement["Resource"])
        )

    effects = {s["Effect"] for s in policy["Statement"] if matches(s)}
    return "Allow" in effects and "Deny" not in effects


def test_the_policy_holds_what_the_issue_names():
    policy = document("rdsbot-iam-policy.json")
    assert statements_with(policy, "secretsmanager:CreateSecret")
    assert statements_with(policy, "kms:CreateGrant")
    [pass_role] = statements_with(policy, "iam:PassRole")
    # AWS IAM guide "id_roles_use_passrole": iam:PassedToService limits which service may receive the role.
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "rds.amazonaws.com"}}


def test_deletes_are_allowed_only_on_what_rdsbot_tagged():
    policy = document("rdsbot-iam-policy.json")
    for action in (
        "rds:DeleteDBInstance",
        "rds:DeleteOptionGroup",
        "rds:DeleteDBSubnetGroup",
        "ec2:DeleteSecurityGroup",
    ):
        [statement] = statements_with(policy, action)
        assert statement["Condition"] == TAGGED, action


def test_roles_are_created_only_under_the_rdsbot_path_with_the_boundary():
    policy = document("rdsbot-iam-policy.json")
    [create] = statements_with(policy, "iam:CreateRole")
    assert create["Condition"] == {
        "StringEquals": {"iam:PermissionsBoundary": "arn:aws:iam::111122223333:policy/rdsbot-role-boundary"}
    }
    assert "arn:aws:iam::*:role/rdsbot/rdsbot-*" in create["Resource"]
    assert all(r.startswith("arn:aws:iam::*:role/rdsbot") for r in create["Resource"])
    assert not statements_with(policy, "iam:DeleteRolePermissionsBoundary")


def test_the_roles_the_policy_lets_rdsbot_change_are_exactly_those_it_treats_as_its_own():
    """bot/role_needs.managed_role decides whether rdsbot extends an option group's role or only checks it: were it
    wider than the policy, rdsbot would try a change IAM refuses; narrower, it would refuse a role it made."""
    policy = document("rdsbot-iam-policy.json")
    wanted = sorted(managed_role_arn_patterns("/rdsbot/"))
    for action in ("iam:PutRolePolicy", "iam:CreateRole", "iam:PassRole"):
        [statement] = statements_with(policy, action)
        assert sorted(_listed(statement["Resource"])) == wanted, action
    for name in ("rdsbot/rdsbot-native-restore", "rdsbot/rdsbot-sqlserver-audit", "rdsbot-native-restore-k1-tde",
                 "rdsbot-native-restore", "rdsbot-sqlserver-audit", "rdsbot/team-backups", "team/rdsbot-native-restore",
                 "rdsbot/sub/rdsbot-x", "rdsbotx/rdsbot-native-restore"):  # fmt: skip
        arn = f"arn:aws:iam::123456789012:role/{name}"
        assert allows(policy, "iam:PutRolePolicy", arn) is managed_role(arn, "/rdsbot/"), name


def test_master_secrets_are_readable_only_for_rdsbot_instances():
    # AWS guide "rds-secrets-manager": RDS names the secret rds!db-<uuid> and tags it with the instance ARN.
    [read] = statements_with(document("rdsbot-iam-policy.json"), "secretsmanager:GetSecretValue")
    assert read["Resource"] == "arn:aws:secretsmanager:*:*:secret:rds!db-*"
    assert read["Condition"]["StringLike"] == {
        "secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn": "arn:aws:rds:*:*:db:rdsbot-*"
    }


def test_the_bot_writes_only_its_own_trail_and_no_backup():
    policy = document("rdsbot-iam-policy.json")
    assert allows(policy, "s3:PutObject", "arn:aws:s3:::rdsbot-audit/rdsbot-audit/rdsbot/2024/11/25/1-2.jsonl")
    assert not allows(policy, "s3:PutObject", "arn:aws:s3:::rdsbot-backups/prod-backup.bak")
    assert not allows(policy, "s3:PutObject", "arn:aws:s3:::rdsbot-audit/rdsbot-audit/sqlserver/x/a.zip")


SPEC = RoleSpec(role_name="r", backup_buckets=("rdsbot-backups",), kms_key_arns=("arn:aws:kms:us-east-1:1:key/k",))
AUDIT = AuditRoleSpec(role_name="a", bucket="rdsbot-audit", key_prefix=names.sqlserver_audit_prefix("rdsbot-audit"))


def _needs(policy: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a, r) for s in policy["Statement"] for a in s["Action"] for r in _listed(s["Resource"])]


def test_the_boundary_allows_everything_both_roles_need():
    boundary = document("rdsbot-role-boundary.json")
    tde = SPEC.model_copy(update={"tde": True})
    for action, resource in _needs(access_policy(tde)) + _needs(audit_access_policy(AUDIT)):
        assert allows(boundary, action, resource.replace("*", "x")), (action, resource)


def test_only_a_tde_restore_role_may_list_buckets_and_read_their_acl():
    # AWS guide "TDE.BackupRestoreRDS", prerequisites: s3:GetBucketAcl on the bucket, s3:ListAllMyBuckets on *.
    plain, tde = access_policy(SPEC), access_policy(SPEC.model_copy(update={"tde": True}))
    assert ("s3:ListAllMyBuckets", "*") in _needs(tde) and ("s3:GetBucketAcl", "arn:aws:s3:::rdsbot-backups") in _needs(
        tde
    )
    assert not {a for a, _ in _needs(plain)} & {"s3:ListAllMyBuckets", "s3:GetBucketAcl"}
    assert not [a for a, _ in _needs(tde) if "Put" in a or "Delete" in a]  # still reads only


def _trail_keys() -> list[str]:
    """Keys the real shipper writes (bot/audit_layout.py): batches in both layouts, a close object, a job record."""
    layout = TrailLayout("rdsbot-audit")
    epoch = "0123456789abcdef"
    return [
        layout.batch_key(epoch, "2024-11-25", 1, 2),
        layout.batch_key(LEGACY, "2024-11-25", 1, 2),
        layout.close_key(epoch, "2024-11-25"),
        layout.record_key(epoch, "j1"),
    ]


def test_neither_role_can_write_rdsbots_own_trail():
    # The trail is <prefix>/rdsbot/...; SQL Server audit files go to <prefix>/sqlserver/... (bot/names.py).
    boundary = document("rdsbot-role-boundary.json")
    for key in _trail_keys():
        for policy in (access_policy(SPEC), audit_access_policy(AUDIT), boundary):
            assert not allows(policy, "s3:PutObject", f"arn:aws:s3:::rdsbot-audit/{key}"), key
    assert allows(
        audit_access_policy(AUDIT), "s3:PutObject", "arn:aws:s3:::rdsbot-audit/rdsbot-audit/sqlserver/i/a/f.zip"
    )
    assert not allows(access_policy(SPEC), "s3:PutObject", "arn:aws:s3:::rdsbot-backups/prod-backup.bak")


def test_final_snapshots_are_allowed_only_of_rdsbot_instances_under_rdsbot_names():
    # DeleteDBInstance with FinalDBSnapshotIdentifier makes the snapshot as the caller (aws/permissions.py).
    policy = document("rdsbot-iam-policy.json")
    account = "arn:aws:rds:us-east-1:111122223333"
    assert allows(policy, "rds:CreateDBSnapshot", f"{account}:snapshot:rdsbot-final-j1-rdsbot-sales-j1")
    assert allows(policy, "rds:CreateDBSnapshot", f"{account}:db:rdsbot-sales-j1")
    assert not allows(policy, "rds:CreateDBSnapshot", f"{account}:db:prod-sales")
    assert not allows(policy, "rds:CreateDBSnapshot", f"{account}:snapshot:prod-nightly")


def test_an_into_instance_may_be_given_only_rdsbots_own_into_option_groups():
    # ModifyDBInstance with OptionGroupName is authorized on the db and the og resource (Service Authorization
    # Reference 'list_amazonrds'; aws/permissions.py): both are named, the og as rdsbot-into-* only.
    policy = document("rdsbot-iam-policy.json")
    account = "arn:aws:rds:us-east-1:111122223333"
    assert allows(policy, "rds:ModifyDBInstance", f"{account}:db:rdsbot-staging-1")
    assert allows(policy, "rds:ModifyDBInstance", f"{account}:og:rdsbot-into-rdsbot-staging-1-15-00")
    assert not allows(policy, "rds:ModifyDBInstance", f"{account}:og:default:sqlserver-se-15-00")
    assert not allows(policy, "rds:ModifyDBInstance", f"{account}:og:team-sqlserver-se-15")
    assert not allows(policy, "rds:ModifyDBInstance", f"{account}:db:prod-sales")
