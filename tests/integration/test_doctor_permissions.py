"""The permission simulation of rdsbot doctor on botocore's Stubber: moto does not implement
iam:SimulatePrincipalPolicy, so the allowed / denied / cannot-simulate paths are pinned here with AWS-shaped
answers (IAM API reference, "SimulatePrincipalPolicy": EvaluationResults with EvalActionName, EvalResourceName,
EvalDecision allowed | explicitDeny | implicitDeny)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from aws.readiness.identity import IdentityChecks
from bot.doctor import Status
from config.policy_model import parse_policy

ROLE = "arn:aws:iam::111122223333:role/service/rdsbot-role"
SESSION = "arn:aws:sts::111122223333:assumed-role/rdsbot-role/i-0123"
POLICY = parse_policy({"backups": {"default_bucket": "prod-backups"}, "audit": {"bucket": "prod-audit"}})


@pytest.fixture
def iam_policy(tmp_path: Path) -> Path:
    """A two-statement bot policy: one on S3 (object and bucket actions), one on '*'."""
    path = tmp_path / "policy.json"
    statements = [
        {"Action": ["s3:ListBucket", "s3:GetObject"], "Resource": ["arn:aws:s3:::rdsbot-backups"]},
        {"Action": ["rds:CreateDBInstance", "iam:PassRole"], "Resource": "*"},
    ]
    path.write_text(json.dumps({"Version": "2012-10-17", "Statement": statements}))
    return path


@pytest.fixture
def clients() -> Iterator[tuple[Any, Stubber, Any, Stubber]]:
    kwargs: dict[str, Any] = {"region_name": "us-east-1", "aws_access_key_id": "k", "aws_secret_access_key": "s"}
    sts, iam = boto3.client("sts", **kwargs), boto3.client("iam", **kwargs)
    with Stubber(sts) as sts_stub, Stubber(iam) as iam_stub:
        sts_stub.add_response(
            "get_caller_identity", {"Account": "111122223333", "Arn": SESSION, "UserId": "AROA:i-0123"}
        )
        # The session maps to its role; GetRole gives the ARN with the role's path.
        iam_stub.add_response(
            "get_role",
            {
                "Role": {
                    "Path": "/service/",
                    "RoleName": "rdsbot-role",
                    "RoleId": "AROAEXAMPLEEXAMPLE01",
                    "Arn": ROLE,
                    "CreateDate": "2024-01-01T00:00:00Z",
                }
            },
            {"RoleName": "rdsbot-role"},
        )
        yield sts, sts_stub, iam, iam_stub


def _decisions(pairs: list[tuple[str, str, str]]) -> dict[str, Any]:
    return {
        "EvaluationResults": [{"EvalActionName": a, "EvalResourceName": r, "EvalDecision": d} for a, r, d in pairs],
        "IsTruncated": False,
    }


def _expect_s3(iam_stub: Stubber, object_decision: str = "allowed") -> None:
    objects = ["arn:aws:s3:::prod-backups/*", "arn:aws:s3:::prod-audit/*"]
    buckets = ["arn:aws:s3:::prod-backups", "arn:aws:s3:::prod-audit"]
    # The policy's own buckets replace the example file's: objects on bucket/*, bucket actions on the bucket.
    iam_stub.add_response(
        "simulate_principal_policy",
        _decisions([("s3:GetObject", objects[0], object_decision), ("s3:GetObject", objects[1], "allowed")]),
        {"PolicySourceArn": ROLE, "ActionNames": ["s3:GetObject"], "ResourceArns": objects},
    )
    iam_stub.add_response(
        "simulate_principal_policy",
        _decisions([("s3:ListBucket", b, "allowed") for b in buckets]),
        {"PolicySourceArn": ROLE, "ActionNames": ["s3:ListBucket"], "ResourceArns": buckets},
    )


def test_every_action_allowed_is_ok_and_simulated_for_the_role_not_the_session(clients, iam_policy):
    sts, _, iam, iam_stub = clients
    _expect_s3(iam_stub)
    iam_stub.add_response(
        "simulate_principal_policy",
        _decisions([("rds:CreateDBInstance", "*", "allowed"), ("iam:PassRole", "*", "allowed")]),
        {"PolicySourceArn": ROLE, "ActionNames": ["rds:CreateDBInstance", "iam:PassRole"]},
    )
    [result] = IdentityChecks(sts, iam, POLICY, iam_policy).permissions()
    assert (result.status, result.subject) == (Status.OK, ROLE)
    assert result.detail == "4 actions allowed (simulated)"
    iam_stub.assert_no_pending_responses()


def test_a_denied_action_fails_naming_the_action_and_the_resource(clients, iam_policy):
    sts, _, iam, iam_stub = clients
    _expect_s3(iam_stub, object_decision="implicitDeny")
    iam_stub.add_response(
        "simulate_principal_policy",
        _decisions([("rds:CreateDBInstance", "*", "allowed"), ("iam:PassRole", "*", "explicitDeny")]),
        {"PolicySourceArn": ROLE, "ActionNames": ANY},
    )
    [result] = IdentityChecks(sts, iam, POLICY, iam_policy).permissions()
    assert result.status == Status.FAIL
    assert result.detail == "denied: iam:PassRole on *, s3:GetObject on arn:aws:s3:::prod-backups/*"
    assert result.fix is not None and "put-role-policy" in result.fix


def test_an_endpoint_that_cannot_simulate_is_a_warning_never_ok(clients, iam_policy):
    sts, _, iam, iam_stub = clients
    iam_stub.add_client_error("simulate_principal_policy", "NotImplemented", http_status_code=500)
    [result] = IdentityChecks(sts, iam, POLICY, iam_policy).permissions()
    assert result.status == Status.WARN
    assert result.detail.startswith("could not simulate (NotImplemented): 4 actions")
