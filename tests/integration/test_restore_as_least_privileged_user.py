"""The bot, running as an IAM user that holds only config/rdsbot-iam-policy.json, with moto enforcing IAM.

moto checks a request against the caller's policies once its count of free requests is spent. That count is
moto.settings.INITIAL_NO_AUTH_ACTION_COUNT, read from the environment when moto is imported (not per request), so
in this process (moto already imported by the session server) it is set through the server's
POST /moto-api/reset-auth, which also zeroes the request counter: the seeding runs free, then every call is
checked, and the test puts it back to unlimited whatever happens.

moto evaluates a resource only for S3, and elsewhere against "*" (FACTS.md), and evaluates conditions against an
empty request context, where a conditioned Allow counts as a Deny. So the user holds a variant of the shipped
policy: S3 statements as shipped, every other statement's resources widened to "*" and its conditions dropped.
tests/unit/test_bot_iam_policy.py checks the real ARNs and conditions statically.
"""

from __future__ import annotations

import copy
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from aws.clients import AwsClients
from aws.sandbox.moto_seed import DEMO_TDE_PASSWORD_KEY_ALIAS, seed_sandbox
from aws.sandbox.sql_server.aws_view import SERVICE_KEY_ID, SERVICE_SECRET
from bot.backup_request import parse_backup_command
from bot.bootstrap import build
from bot.domain import JobStatus
from bot.parser import parse_restore_command
from config.policy_model import load_policy
from config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def moto_variant(policy: dict[str, Any], without: str | None = None) -> dict[str, Any]:
    """The shipped policy as moto can evaluate it (see the module docstring); `without` drops one action."""
    variant = copy.deepcopy(policy)
    for statement in variant["Statement"]:
        if not all(a.startswith("s3:") for a in statement["Action"]):
            statement["Resource"] = "*"
            statement.pop("Condition", None)
        statement["Action"] = [a for a in statement["Action"] if a != without]
    variant["Statement"] = [s for s in variant["Statement"] if s["Action"]]
    return variant


def _reset_auth(moto_server: str, free_requests: float) -> None:
    request = urllib.request.Request(
        f"{moto_server}/moto-api/reset-auth",
        data=str(free_requests).encode(),
        method="POST",
        # As a form body Flask would hide it from request.data, which moto reads.
        headers={"Content-Type": "text/plain"},
    )
    urllib.request.urlopen(request).close()


@pytest.fixture
def enforce_iam(aws: AwsClients, moto_server: str) -> Iterator[Any]:
    """Seed for free; then `enforce(policy)` makes a user holding `policy` the only caller moto lets through."""

    def enforce(policy: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
        aws.iam.create_user(UserName="rdsbot")
        aws.iam.put_user_policy(UserName="rdsbot", PolicyName="rdsbot", PolicyDocument=json.dumps(policy))
        key = aws.iam.create_access_key(UserName="rdsbot")["AccessKey"]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        _reset_auth(moto_server, 0)

    try:
        yield enforce
    finally:
        _reset_auth(moto_server, float("inf"))


@pytest.fixture
def settings(aws: AwsClients, tmp_path: Path) -> Settings:
    seed_sandbox(load_policy(None))
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'jobs.db'}",
        sqlserver_driver="sandbox",
        sandbox_restore_seconds=0.3,
        sandbox_state_path=tmp_path / "sandbox.json",
        poll_seconds=0.05,
    )


def _restore(settings: Settings, text: str = "prod-backup.bak db.m5.large") -> Any:
    app = build(settings)
    try:
        job = app.service.submit(parse_restore_command(text), "U0ALICE", approved=True).job
        app.engine.run_until_idle(timeout_seconds=60)
        return app.store.jobs.get_job(job.id)
    finally:
        app.close()


def shipped_policy() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((ROOT / "config" / "rdsbot-iam-policy.json").read_text())
    return document


def test_a_user_holding_only_the_shipped_policy_completes_a_restore(settings, enforce_iam, aws, monkeypatch):
    enforce_iam(moto_variant(shipped_policy()), monkeypatch)

    done = _restore(settings)

    assert done is not None and done.status == JobStatus.SUCCEEDED, done.error if done else None


def test_a_user_holding_only_the_shipped_policy_backs_up_a_restored_database(settings, enforce_iam, aws, monkeypatch):
    """/rds-backup's calls (HeadObject of the destination, DescribeOptionGroups for its role, PutRolePolicy on the
    role rdsbot manages, the bucket's region) are all in the shipped policy (aws/permissions.py)."""
    # The emulated RDS writes the object as a principal of its own (RDS writes as the option group's role).
    aws.iam.create_user(UserName="rds-service")
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    aws.iam.put_user_policy(UserName="rds-service", PolicyName="rds", PolicyDocument=json.dumps(everything))
    service = aws.iam.create_access_key(UserName="rds-service")["AccessKey"]
    monkeypatch.setenv(SERVICE_KEY_ID, service["AccessKeyId"])
    monkeypatch.setenv(SERVICE_SECRET, service["SecretAccessKey"])
    enforce_iam(moto_variant(shipped_policy()), monkeypatch)
    restored = _restore(settings)
    assert restored is not None and restored.status == JobStatus.SUCCEEDED, restored.error if restored else None
    app = build(settings)
    try:
        request = parse_backup_command(
            f"{restored.plan.target_instance_id} {restored.plan.database_name} s3://rdsbot-backups/copies/copy.bak"
        )
        job = app.service.submit_backup(request, "U0ALICE")
        assert app.store.jobs.transition(job.id, JobStatus.AWAITING_APPROVAL, JobStatus.QUEUED, [])
        app.engine.run_until_idle(timeout_seconds=60)
        done = app.store.jobs.get_job(job.id)
    finally:
        app.close()
    assert done is not None and done.status == JobStatus.SUCCEEDED, done.error if done else None
    assert done.outputs.backup_objects == ("s3://rdsbot-backups/copies/copy.bak",)


def test_the_same_policy_without_modify_option_group_is_denied(settings, enforce_iam, aws, monkeypatch):
    enforce_iam(moto_variant(shipped_policy(), without="rds:ModifyOptionGroup"), monkeypatch)

    done = _restore(settings)

    assert done is not None and done.status == JobStatus.FAILED, done.status
    assert "AccessDenied" in str(done.error) and "rds:ModifyOptionGroup" in str(done.error), done.error


def test_the_moto_variant_widens_only_what_moto_cannot_evaluate():
    shipped, variant = shipped_policy(), moto_variant(shipped_policy())
    for real, widened in zip(shipped["Statement"], variant["Statement"], strict=True):
        assert widened["Action"] == real["Action"]
        if all(a.startswith("s3:") for a in real["Action"]):
            assert widened == real
        else:
            assert widened["Resource"] == "*"


def test_an_unrelated_caller_is_denied_once_iam_is_enforced(enforce_iam, aws, monkeypatch):
    """The enforcement is real: the same calls as the seeding, by a user without rds:*, are refused."""
    enforce_iam(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}, monkeypatch
    )
    rds = boto3.Session().client("rds", region_name="us-east-1")
    with pytest.raises(rds.exceptions.ClientError, match="AccessDenied"):
        rds.describe_db_instances()


def test_a_user_holding_only_the_shipped_policy_completes_a_tde_restore(settings, enforce_iam, aws, monkeypatch):
    # The TDE restore adds a HeadObject of the .cer and .pvk, a role with s3:ListAllMyBuckets and kms:Decrypt on
    # the password key (iam:PutRolePolicy), and an option group with the TDE option (rds:ModifyOptionGroup).
    key_arn = aws.kms.describe_key(KeyId=DEMO_TDE_PASSWORD_KEY_ALIAS)["KeyMetadata"]["Arn"]  # seeded by `settings`
    enforce_iam(moto_variant(shipped_policy()), monkeypatch)

    done = _restore(
        settings,
        "tde/sales-tde.bak db.m5.large --tde-certificate tde/sales-tde.cer --tde-private-key tde/sales-tde.pvk "
        f"--tde-password-key {key_arn}",
    )

    assert done is not None and done.status == JobStatus.SUCCEEDED, done.error if done else None
    assert done.outputs.option_group is not None and done.outputs.option_group.endswith("-tde")
