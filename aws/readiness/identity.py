"""Who the bot is (sts:GetCallerIdentity) and whether its policies allow every action it needs
(iam:SimulatePrincipalPolicy over the actions of config/rdsbot-iam-policy.json, on the policy's own buckets).

AWS: "SimulatePrincipalPolicy" (IAM API reference): the source is a user, group or role ARN, never an assumed-role
session, so an assumed role is mapped to its role (GetRole gives the ARN with its path). moto does not implement
the call; any failure to simulate is a `warn` that says so, never an `ok`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws.errors import aws_call
from bot.doctor import CheckResult, fail, ok, warn
from bot.errors import AwsError
from config.policy_model import Policy

BOT_IAM_POLICY = Path(__file__).resolve().parents[2] / "config" / "rdsbot-iam-policy.json"
_ASSUMED_ROLE = re.compile(r"^arn:(?P<partition>[^:]+):sts::(?P<account>\d+):assumed-role/(?P<role>[^/]+)/.+$")
# S3 actions on objects are simulated on bucket/*, the rest on the bucket itself.
_OBJECT_ACTION = re.compile(r"^s3:(\w*Object\w*|AbortMultipartUpload|ListMultipartUploadParts)$", re.IGNORECASE)


@dataclass(frozen=True)
class Principal:
    """The caller as the doctor sees it (not aws.identity.CallerIdentity, the cached account and partition lookup)."""

    account: str
    arn: str
    principal_arn: str | None  # what to simulate: the user or role ARN; None for the root user


def role_arn_of(caller_arn: str) -> str | None:
    """arn:aws:sts::1:assumed-role/Name/session -> arn:aws:iam::1:role/Name; a user ARN as it is; None for root."""
    match = _ASSUMED_ROLE.match(caller_arn)
    if match:
        return f"arn:{match['partition']}:iam::{match['account']}:role/{match['role']}"
    if ":iam::" in caller_arn and caller_arn.endswith(":root"):
        return None
    return caller_arn


def needed_actions(path: Path = BOT_IAM_POLICY) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(actions, resources) per statement of the bot's IAM policy document."""
    statements = json.loads(path.read_text())["Statement"]
    pairs = []
    for statement in statements:
        actions, resources = statement["Action"], statement.get("Resource", "*")
        pairs.append(
            (
                tuple([actions] if isinstance(actions, str) else actions),
                tuple([resources] if isinstance(resources, str) else resources),
            )
        )
    return pairs


class IdentityChecks:
    def __init__(self, sts: Any, iam: Any, policy: Policy, iam_policy: Path = BOT_IAM_POLICY) -> None:
        self._sts = sts
        self._iam = iam
        self._policy = policy
        self._iam_policy = iam_policy
        self._caller: Principal | None = None

    def caller(self) -> Principal:
        """The caller, read once; AwsError when there are no usable credentials."""
        if self._caller is None:
            with aws_call("GetCallerIdentity"):
                answer = self._sts.get_caller_identity()
            arn = str(answer["Arn"])
            principal = role_arn_of(arn)
            match = _ASSUMED_ROLE.match(arn)
            if match:
                principal = self._role_arn_with_path(match["role"]) or principal
            self._caller = Principal(str(answer["Account"]), arn, principal)
        return self._caller

    def _role_arn_with_path(self, role: str) -> str | None:
        try:
            with aws_call("GetRole"):
                return str(self._iam.get_role(RoleName=role)["Role"]["Arn"])
        except AwsError:
            return None  # the path-less ARN is right for roles without a path

    def identity(self) -> list[CheckResult]:
        try:
            caller = self.caller()
        except AwsError as exc:
            return [
                fail(
                    "identity",
                    "AWS credentials",
                    "sts:GetCallerIdentity",
                    str(exc),
                    "give the bot credentials (its role, AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)",
                )
            ]
        return [ok("identity", "AWS credentials", caller.arn, f"account {caller.account}")]

    def permissions(self) -> list[CheckResult]:
        try:
            caller = self.caller()
        except AwsError as exc:
            return [warn("identity", "permissions", "iam:SimulatePrincipalPolicy", f"no identity to simulate: {exc}")]
        if caller.principal_arn is None:
            return [warn("identity", "permissions", caller.arn, "the root user: run the bot as a role, not as root")]
        denied: list[str] = []
        simulations = self._simulations()
        checked = len({action for actions, _ in simulations for action in actions})
        try:
            for actions, resources in simulations:
                denied += self._denied(caller.principal_arn, actions, resources)
        except AwsError as exc:
            return [
                warn(
                    "identity",
                    "permissions",
                    caller.principal_arn,
                    f"could not simulate ({exc.code}): {checked} actions the bot needs unchecked, not known to pass",
                    f"aws iam simulate-principal-policy --policy-source-arn {caller.principal_arn} --action-names ...",
                )
            ]
        if denied:
            return [
                fail(
                    "identity",
                    "permissions",
                    caller.principal_arn,
                    f"denied: {', '.join(sorted(set(denied)))}",
                    f"attach {self._iam_policy.name} to the role (narrowed to your buckets): aws iam put-role-policy "
                    f"--role-name <role> --policy-name rdsbot --policy-document file://config/{self._iam_policy.name}",
                )
            ]
        return [ok("identity", "permissions", caller.principal_arn, f"{checked} actions allowed (simulated)")]

    def _simulations(self) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
        """The policy document's statements, with S3 resources replaced by this policy's own buckets."""
        buckets = [*self._policy.backups.buckets, *([self._policy.audit.bucket] if self._policy.audit.bucket else [])]
        kms_keys = [k for k in [self._policy.audit.kms_key_id] if k and k.startswith("arn:")]
        runs = []
        for actions, resources in needed_actions(self._iam_policy):
            if any(r.startswith("arn:aws:s3:::") for r in resources):
                on_objects = tuple(a for a in actions if _OBJECT_ACTION.match(a))
                on_buckets = tuple(a for a in actions if not _OBJECT_ACTION.match(a))
                runs.append((on_objects, tuple(f"arn:aws:s3:::{b}/*" for b in buckets)))
                runs.append((on_buckets, tuple(f"arn:aws:s3:::{b}" for b in buckets)))
            elif all(a.startswith("kms:") for a in actions):
                if self._policy.audit.kms_key_id:  # only needed for SSE-KMS on the audit trail
                    runs.append((actions, tuple(kms_keys) or ("*",)))
            else:
                runs.append((actions, resources))
        return [(a, r) for a, r in runs if a]

    def _denied(self, principal: str, actions: tuple[str, ...], resources: tuple[str, ...]) -> list[str]:
        kwargs: dict[str, Any] = {"PolicySourceArn": principal, "ActionNames": list(actions)}
        if resources != ("*",):
            kwargs["ResourceArns"] = list(resources)
        with aws_call("SimulatePrincipalPolicy"):
            pages = self._iam.get_paginator("simulate_principal_policy").paginate(**kwargs)
            results = [r for page in pages for r in page.get("EvaluationResults", [])]
        return [
            f"{r['EvalActionName']} on {r.get('EvalResourceName', '*')}"
            for r in results
            if r.get("EvalDecision") != "allowed"
        ]
