"""What RDS needs of the IAM role an option group's SQLSERVER_BACKUP_RESTORE names, and which roles are rdsbot's.
One list of actions serves both what rdsbot grants its own roles (aws/iam.py, aws/backup_role.py) and what it asks
IAM about a role it does not manage (iam:SimulatePrincipalPolicy). Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

# AWS guide "SQLServer.Procedural.Importing.Native.Enabling" (the restore half; s3:PutObject and the multipart
# actions serve rds_backup_database: bot/backup_target.py).
RESTORE_BUCKET_ACTIONS = ("s3:GetBucketLocation", "s3:ListBucket")
RESTORE_OBJECT_ACTIONS = ("s3:GetObject", "s3:GetObjectAttributes")
# The same guide: for a backup made with a KMS key the role needs these on the key (and the key policy must name it).
RESTORE_KMS_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")
# AWS guide "TDE.BackupRestoreRDS", prerequisites: besides native restore's, the role that imports a TDE certificate
# needs s3:GetBucketAcl (with GetBucketLocation and ListBucket) on the bucket and s3:ListAllMyBuckets on *; it reads
# the .cer and .pvk like a backup, and decrypts the .pvk's password with the password key.
TDE_BUCKET_ACTIONS = ("s3:GetBucketAcl",)
TDE_ACCOUNT_ACTIONS = ("s3:ListAllMyBuckets",)
# What reading a file under SSE-KMS (or a .bak made with @kms_master_key_arn, or a TDE password) takes of the role;
# rdsbot's own role gets all of RESTORE_KMS_ACTIONS, whose Encrypt and GenerateDataKey only a backup writing needs.
RESTORE_DECRYPT_ACTIONS = ("kms:Decrypt", "kms:DescribeKey")
TDE_DECRYPT_ACTIONS = RESTORE_DECRYPT_ACTIONS
ROLE_NAME_PREFIX = "rdsbot-"  # every role rdsbot makes: rdsbot-native-restore..., rdsbot-sqlserver-audit
# Restore roles made at the root path before roles.path existed: aws/iam.py finds a role by name whatever its path, so
# restores still run as them, and the shipped IAM policy still lets rdsbot change them.
LEGACY_ROLE_NAME_PREFIX = "rdsbot-native-restore"


class RoleNeeds(Protocol):
    """Actions -> the resources they must be allowed on, as iam:SimulatePrincipalPolicy is asked."""

    def resources(self) -> dict[tuple[str, ...], tuple[str, ...]]: ...


def buckets_of(object_arns: tuple[str, ...]) -> tuple[str, ...]:
    """arn:aws:s3:::bucket/key -> arn:aws:s3:::bucket, once each, in order."""
    return tuple(dict.fromkeys(arn.split("/", 1)[0] for arn in object_arns))


@dataclass(frozen=True)
class RestoreReadNeeds:
    """What rds_restore_database needs of the option group's role to read a backup: every object it reads (each file
    of a multi-file set, each step of a chain), their buckets, and the keys it decrypts them with."""

    object_arns: tuple[str, ...]
    kms_key_arns: tuple[str, ...] = ()  # the objects' SSE-KMS keys and a .bak's own @kms_master_key_arn

    def resources(self) -> dict[tuple[str, ...], tuple[str, ...]]:
        needs: dict[tuple[str, ...], tuple[str, ...]] = {
            RESTORE_OBJECT_ACTIONS: self.object_arns,
            RESTORE_BUCKET_ACTIONS: buckets_of(self.object_arns),
        }
        if self.kms_key_arns:
            needs[RESTORE_DECRYPT_ACTIONS] = self.kms_key_arns
        return needs


@dataclass(frozen=True)
class TdeImportNeeds:
    """What rds_restore_tde_certificate needs of the option group's role for one certificate."""

    certificate_s3_arn: str
    private_key_s3_arn: str
    password_key_arn: str
    file_kms_key_arns: tuple[str, ...] = ()  # the SSE-KMS keys the .cer and .pvk are stored under

    def resources(self) -> dict[tuple[str, ...], tuple[str, ...]]:
        files = (self.certificate_s3_arn, self.private_key_s3_arn)
        return {
            RESTORE_OBJECT_ACTIONS: files,
            RESTORE_BUCKET_ACTIONS + TDE_BUCKET_ACTIONS: buckets_of(files),
            TDE_ACCOUNT_ACTIONS: ("*",),
            TDE_DECRYPT_ACTIONS: tuple(dict.fromkeys((self.password_key_arn, *self.file_kms_key_arns))),
        }


def role_path_and_name(role_arn: str) -> tuple[str, str]:
    """arn:aws:iam::1:role/team/x/name -> ("/team/x/", "name"): an IAM role ARN is role/<path><name>."""
    rest = role_arn.split(":role", 1)[-1]
    path, _, name = rest.rpartition("/")
    return path + "/", name


def managed_role_arn_patterns(roles_path: str) -> tuple[str, ...]:
    """The role ARNs rdsbot's IAM policy lets it create, change and pass: its `rdsbot-` roles right under roles.path,
    and the legacy restore roles at the root. config/rdsbot-iam-policy.json lists exactly these for roles.path
    /rdsbot/ (tests/unit/test_bot_iam_policy.py holds them equal); a deployment with another path edits it likewise."""
    return (
        f"arn:aws:iam::*:role{roles_path}{ROLE_NAME_PREFIX}*",
        f"arn:aws:iam::*:role/{LEGACY_ROLE_NAME_PREFIX}*",
    )


def _iam_wildcard(pattern: str) -> re.Pattern[str]:
    # IAM's Resource matching: `*` any run of characters (`/` included), `?` one; everything else literal, case kept.
    return re.compile(".*".join(".".join(map(re.escape, part.split("?"))) for part in pattern.split("*")))


def managed_role(role_arn: str, roles_path: str) -> bool:
    """A role rdsbot may change, so extends instead of checking: one its IAM policy lets it change
    (managed_role_arn_patterns), so this check and the policy cannot disagree. Any other role is only checked."""
    return any(_iam_wildcard(p).fullmatch(role_arn) for p in managed_role_arn_patterns(roles_path))
