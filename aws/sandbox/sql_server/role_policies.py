"""What the emulated RDS may do as the role its option group's SQLSERVER_BACKUP_RESTORE names: it evaluates the
role's identity policies (inline and attached) as IAM does for each action and resource RDS needs (AWS IAM guide
"reference_policies_evaluation-logic": an explicit Deny wins, else an Allow is needed; `*` and `?` match within
Action, case-insensitively, and Resource). moto does not do this for a role RDS assumes, nor answer
iam:SimulatePrincipalPolicy, so without it the sandbox would import a TDE certificate as a role that cannot read it.

Known gaps, all on the lenient side: Condition blocks are not evaluated (a conditional statement counts), NotAction
and NotResource statements are skipped, permissions boundaries and key or bucket policies are not consulted."""

from __future__ import annotations

import json
from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import unquote

from bot.role_needs import RoleNeeds


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _matches(patterns: Any, value: str, *, ignore_case: bool) -> bool:
    if ignore_case:
        return any(fnmatchcase(value.lower(), p.lower()) for p in _as_list(patterns))
    return any(fnmatchcase(value, p) for p in _as_list(patterns))


def allowed(documents: Iterable[dict[str, Any]], action: str, resource: str) -> bool:
    """IAM's answer for one request under these identity policies."""
    allow = False
    for document in documents:
        statements = document.get("Statement", [])
        for statement in [statements] if isinstance(statements, dict) else statements:
            if "Action" not in statement or "Resource" not in statement:
                continue  # NotAction / NotResource: not modelled (see above)
            if not _matches(statement["Action"], action, ignore_case=True):
                continue
            if not _matches(statement["Resource"], resource, ignore_case=False):
                continue
            if statement.get("Effect") == "Deny":
                return False
            allow = allow or statement.get("Effect") == "Allow"
    return allow


def lacks(documents: list[dict[str, Any]], needs: RoleNeeds) -> list[str]:
    """Each "action on resource" of `needs` these policies do not allow."""
    return [
        f"{action} on {resource}"
        for actions, resources in needs.resources().items()
        for action in actions
        for resource in resources
        if not allowed(documents, action, resource)
    ]


def role_documents(iam: Any, role_name: str) -> list[dict[str, Any]]:
    """The role's inline and attached policy documents, read through IAM (moto's)."""
    documents = []
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        documents.append(_document(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]))
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"])
        documents.append(_document(version["PolicyVersion"]["Document"]))
    return documents


def _document(value: Any) -> dict[str, Any]:
    # boto3 decodes policy documents; some endpoints hand back the URL-encoded JSON text instead.
    if isinstance(value, str):
        loaded: dict[str, Any] = json.loads(unquote(value))
        return loaded
    return dict(value)
