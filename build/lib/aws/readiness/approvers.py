"""Approvers: the admin IAM group exists and has members, and which of them map to a Slack user (by the IAM user
tags aws/admin_directory.py reads) and which do not.

AWS: IAM "GetGroup" (the group's users, paginated; NoSuchEntity when absent) and
"GetAccountAuthorizationDetails" (users with their tags, as the directory reads them).
"""

from __future__ import annotations

from typing import Any

from aws.admin_directory import IamAdminDirectory
from aws.errors import aws_call, is_not_found
from bot.doctor import CheckResult, fail, ok, warn
from bot.errors import AwsError
from bot.tags import SLACK_USER_ID


class ApproverChecks:
    def __init__(self, iam: Any, group: str) -> None:
        self._iam = iam
        self._group = group
        self._directory = IamAdminDirectory(iam, group)

    def admin_group(self) -> list[CheckResult]:
        subject = f"IAM group {self._group}"
        try:
            with aws_call("GetGroup"):
                pages = self._iam.get_paginator("get_group").paginate(GroupName=self._group)
                members = sorted({u["UserName"] for page in pages for u in page["Users"]})
        except AwsError as exc:
            if is_not_found(exc):
                fix = f"aws iam create-group --group-name {self._group}, or set approvals.admin_iam_group"
                return [fail("approvers", "admin group", subject, "does not exist", fix)]
            return [fail("approvers", "admin group", subject, f"cannot read: {exc}", "grant the bot iam:GetGroup")]
        if not members:
            fix = f"aws iam add-user-to-group --group-name {self._group} --user-name <admin>"
            return [fail("approvers", "admin group", subject, "has no members: nobody can approve", fix)]
        results = [ok("approvers", "admin group", subject, f"{len(members)} member(s)")]
        return results + self._mapping(subject, members)

    def _mapping(self, subject: str, members: list[str]) -> list[CheckResult]:
        try:
            mapping = self._directory.slack_mapping()
        except AwsError as exc:
            return [warn("approvers", "Slack mapping", subject, f"could not read IAM user tags: {exc}")]
        mapped = [m for m in members if m in mapping]
        unmapped = [m for m in members if m not in mapping]
        fix = f"aws iam tag-user --user-name <user> --tags Key={SLACK_USER_ID},Value=<Slack member id>"
        if not mapped:
            detail = f"none of {', '.join(members)} is tagged with a Slack id or email: nobody can approve"
            return [fail("approvers", "Slack mapping", subject, detail, fix)]
        detail = f"{len(mapped)} of {len(members)} map to Slack ({', '.join(f'{m}: {mapping[m]}' for m in mapped)})"
        if unmapped:
            return [warn("approvers", "Slack mapping", subject, f"{detail}; not mapped: {', '.join(unmapped)}", fix)]
        return [ok("approvers", "Slack mapping", subject, detail)]
