"""The KMS keys the policy names (audit.kms_key_id, and any other *kms_key_id* setting): they exist, are enabled
and symmetric, and the key policy names the bot's role (or delegates to IAM through the account root).

AWS: KMS "DescribeKey" (KeyState, KeySpec, KeyUsage) and "GetKeyPolicy" (the only policy name is "default");
RDS needs symmetric encryption keys (RDS user guide, "Overview.Encryption.Keys").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel

from aws.errors import aws_call
from bot.doctor import CheckResult, fail, ok, warn
from bot.errors import AwsError
from config.policy_model import Policy


def named_keys(model: BaseModel, path: str = "") -> Iterator[tuple[str, str]]:
    """(key path, key id) for every set field whose name ends in kms_key_id, anywhere in the policy."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        where = f"{path}{name}"
        if isinstance(value, BaseModel):
            yield from named_keys(value, where + ".")
        elif name.endswith("kms_key_id") and isinstance(value, str) and value:
            yield where, value


class KmsChecks:
    def __init__(self, kms: Any, policy: Policy, principal: Callable[[], str | None]) -> None:
        self._kms = kms
        self._policy = policy
        self._principal = principal  # the bot's role or user ARN, None when unknown

    def keys(self) -> list[CheckResult]:
        keys = list(named_keys(self._policy))
        if not keys:
            return [ok("kms", "keys", "policy", "no KMS key named: S3 and RDS use AWS-managed encryption")]
        return [result for setting, key in keys for result in self._key(setting, key)]

    def _key(self, setting: str, key: str) -> list[CheckResult]:
        try:
            with aws_call("DescribeKey"):
                meta = self._kms.describe_key(KeyId=key)["KeyMetadata"]
        except AwsError as exc:
            fix = f"set {setting} to an existing key ARN, or aws kms create-key --key-spec SYMMETRIC_DEFAULT"
            return [fail("kms", "key", f"{setting}: {key}", f"cannot describe: {exc}", fix)]
        arn = str(meta["Arn"])
        problems = []
        if meta.get("KeyState") != "Enabled":
            problems.append(f"state {meta.get('KeyState')}")
        if meta.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
            problems.append(f"spec {meta.get('KeySpec')} (RDS and SSE-KMS need SYMMETRIC_DEFAULT)")
        if problems:
            fix = f"aws kms enable-key --key-id {arn}, or name a symmetric key in {setting}"
            return [fail("kms", "key", arn, "; ".join(problems), fix)]
        return [ok("kms", "key", arn, f"{setting}: enabled, symmetric"), self._key_policy(arn)]

    def _key_policy(self, arn: str) -> CheckResult:
        principal = self._principal()
        try:
            with aws_call("GetKeyPolicy"):
                document = json.loads(self._kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"])
        except (AwsError, ValueError) as exc:
            return warn("kms", "key policy", arn, f"could not read the key policy: {exc}")
        named = json.dumps(document)
        if principal and principal in named:
            return ok("kms", "key policy", arn, f"names {principal}")
        account = arn.split(":")[4]
        if f"arn:aws:iam::{account}:root" in named or f'"{account}"' in named:
            return ok("kms", "key policy", arn, "delegates to IAM policies (account root)")
        fix = f"add {principal or 'the bot role'} as a key user in the key policy of {arn}"
        return fail("kms", "key policy", arn, "names neither the bot's role nor the account", fix)
