"""KMS key rules for a restore: which form each key may take, in which region and account. Pure.

Three keys take part, and RDS keeps them apart (AWS guide "SQLServer.Procedural.Importing.Native.Using"):
the key a client-side encrypted .bak was made with (`@kms_master_key_arn`), the instance's storage key
(`KmsKeyId`), and the bucket's SSE-KMS key, which the restore role must be allowed to decrypt with.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from bot.errors import RequestError

_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"(?P<kind>key|alias)/(?P<name>[A-Za-z0-9/_-]+)"
)
# Field -> the flag a user types, for hints.
FLAGS = {
    "backup_kms_key_arn": "--backup-kms-key",
    "storage_kms_key_arn": "--storage-kms-key",
    "tde_password_key_arn": "--tde-password-key",
}


@dataclass(frozen=True)
class KeyArn:
    partition: str
    region: str
    account: str
    kind: str  # "key" or "alias"
    name: str


def partition_of(region: str) -> str:
    """The ARN partition a region belongs to."""
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws"


def check_key_arn(
    field: str, value: str, region: str, allowed_accounts: Collection[str], *, alias_allowed: bool = True
) -> KeyArn:
    """A full key ARN (or alias ARN, where allowed) in `region`, of an account in `allowed_accounts`.

    An empty `allowed_accounts` skips the account check: the caller (the preflight) knows the bot's own account.
    """
    flag = FLAGS.get(field, field)
    example = f"arn:{partition_of(region)}:kms:{region}:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    match = _ARN.fullmatch(value)
    if not match:
        raise RequestError(
            field,
            f"{value!r} is not a full KMS key ARN",
            f"write {flag} {example}; a bare key id or alias/name is resolved in whichever account reads it",
        )
    key = KeyArn(**match.groupdict())
    if key.kind == "alias" and not alias_allowed:
        # IAM matches key use against the key ARN only: a role allowed on an alias ARN still may not decrypt
        # (AWS KMS guide "alias-authorization").
        raise RequestError(
            field,
            f"{value} is an alias; the restore role's grant must name the key itself",
            f"give {flag} the key ARN the alias points to ({example})",
        )
    if key.region != region or key.partition != partition_of(region):
        where = key.region if key.partition == partition_of(region) else f"partition {key.partition}"
        raise RequestError(
            field,
            f"key {value} is in {where}, but the restore targets {region}",
            f"use a key in {region}: RDS uses KMS keys only in the instance's region",
        )
    if allowed_accounts and key.account not in allowed_accounts:
        raise RequestError(
            field,
            f"key {value} belongs to account {key.account}, which the policy does not allow",
            f"allowed accounts (kms.allowed_accounts): {', '.join(sorted(allowed_accounts))}",
        )
    return key
