"""The deploy documents stay true to the code: the IAM policy grants every call aws/ makes, and the Slack
manifest declares every command the app listens to."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICE_PREFIX = {
    "rds": "rds",
    "ec2": "ec2",
    "iam": "iam",
    "s3": "s3",
    "sts": "sts",
    "secretsmanager": "secretsmanager",
}
# boto3 methods whose IAM action is named differently, or that make no call at all.
IAM_ACTION = {
    "s3:head_object": "s3:GetObject",
    "s3:list_objects_v2": "s3:ListBucket",
    "s3:generate_presigned_url": None,
    "s3:meta": None,
    "s3:get_public_access_block": "s3:GetBucketPublicAccessBlock",
    "s3:get_object_lock_configuration": "s3:GetBucketObjectLockConfiguration",
}


def _granted() -> set[str]:
    policy = json.loads((ROOT / "config" / "rdsbot-iam-policy.json").read_text())
    return {action for statement in policy["Statement"] for action in statement["Action"]}


def _called() -> set[str]:
    calls: set[str] = set()
    # The stand-ins seed moto and read backups for the emulator; the bot never makes those calls.
    sources = [p for p in (ROOT / "aws").rglob("*.py") if not p.is_relative_to(ROOT / "aws" / "sandbox")]
    for path in sources:
        text = path.read_text()
        for service, method in re.findall(r"self\._(rds|ec2|iam|s3|sts)\.([a-z_0-9]+)", text):
            calls.add(f"{service}:{method}")
        for service, method in re.findall(r"self\._(rds|ec2|iam|s3|sts)\.get_paginator\(\"([a-z_0-9]+)\"", text):
            calls.add(f"{service}:{method}")
        for method in re.findall(r"(?:secretsmanager|_secrets)\.([a-z_]+)\(", text):
            calls.add(f"secretsmanager:{method}")
        for method in re.findall(r"\biam\.([a-z_]+)\(", text):
            calls.add(f"iam:{method}")
    calls.discard("rds:get_paginator")
    return {c for c in calls if not c.endswith(":get_paginator")}


def _action(call: str) -> str | None:
    if call in IAM_ACTION:
        return IAM_ACTION[call]
    service, method = call.split(":")
    return f"{SERVICE_PREFIX[service]}:" + "".join(part.capitalize() for part in method.split("_"))


def test_the_bot_iam_policy_grants_every_call_the_aws_layer_makes():
    granted = {a.lower() for a in _granted()}
    missing = sorted(
        action for call in _called() if (action := _action(call)) is not None and action.lower() not in granted
    )
    assert missing == [], f"add to config/rdsbot-iam-policy.json: {missing}"


def test_the_manifest_declares_every_command_the_app_handles():
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    declared = {c["command"] for c in manifest["features"]["slash_commands"]}
    handled = set()
    for path in (ROOT / "handlers").glob("*.py"):
        handled |= set(re.findall(r"command\(\"(/rds-[a-z-]+)\"\)", path.read_text()))
    assert handled and handled <= declared
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert {"commands", "chat:write", "users:read.email"} <= set(manifest["oauth_config"]["scopes"]["bot"])
