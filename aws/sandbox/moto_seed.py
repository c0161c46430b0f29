"""The embedded AWS sandbox: a moto server on loopback, seeded with what the demo and the console need.

Only loopback is touched: the server binds 127.0.0.1 on a free port and boto3 reaches it through the standard
AWS_ENDPOINT_URL, exactly as it would reach real AWS.
"""

from __future__ import annotations

import base64
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import boto3

from aws.sandbox.backup_content import certificate_bytes, certificate_thumbprint, manifest_bytes
from bot.errors import ConfigError
from bot.tde import PASSWORD_METADATA
from config.policy_model import Policy

SANDBOX_ENV = {
    "AWS_ACCESS_KEY_ID": "sandbox",
    "AWS_SECRET_ACCESS_KEY": "sandbox",  # moto accepts any credentials; this is not a secret
    "AWS_DEFAULT_REGION": "us-east-1",
}
DEMO_BACKUP_KEY = "prod-backup.bak"
DEMO_MULTI_FILE_PREFIX = "nightly/prod_"
# A restore chain: /rds-restore chain/full.bak db.m5.large --diff chain/diff.bak --log chain/log* --stop-at ...
DEMO_CHAIN_KEYS = ("chain/full.bak", "chain/diff.bak", "chain/log1.trn", "chain/log2.trn")
# Console identities and the IAM users they map to (by the IAM tag slack-user-id).
# What the demo backups hold: enough for the example policy's drill checks to pass.
DEMO_DATABASE = {
    "tables": {"dbo.orders": 1500, "dbo.customers": 320, "dbo.invoices": 2800},
    "django_migrations": [
        ["contenttypes", "0001_initial"],
        ["contenttypes", "0002_remove_content_type_name"],
        ["auth", "0001_initial"],
        ["auth", "0012_alter_user_first_name_max_length"],
        ["orders", "0001_initial"],
        ["orders", "0030_order_currency"],
        ["orders", "0031_add_invoice_number"],
    ],
}
# A backup of a TDE-encrypted database, the certificate protecting it (.cer) and its private key (.pvk, with the
# x-amz-meta-rds-tde-pwd metadata RDS decrypts with the password key; AWS guide "TDE.BackupRestoreOnPrem").
DEMO_TDE_BACKUP_KEY = "tde/sales-tde.bak"
DEMO_TDE_CERTIFICATE_KEY = "tde/sales-tde.cer"
DEMO_TDE_PRIVATE_KEY_KEY = "tde/sales-tde.pvk"
DEMO_TDE_CERTIFICATE = certificate_bytes("CN=sales TDE certificate (rdsbot sandbox)")
DEMO_TDE_PASSWORD_KEY_ALIAS = "alias/rdsbot-sandbox-tde-password"
SANDBOX_USERS = {"alice": ("U0ALICE", True), "bob": ("U0BOB", True), "carol": ("U0CAROL", False)}


class _UnimplementedActions(logging.Filter):
    """Drops the tracebacks of actions moto lacks (rdsbot doctor asks for two and reports each as a warn)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # werkzeug formats the traceback into the message itself ("Error on request:\n...").
        message = record.getMessage()
        return not ("NotImplementedError: The " in message and "has not been implemented" in message)


_QUIET_GAPS = _UnimplementedActions()


class SandboxNotInstalled(ConfigError):
    """moto is missing; a ConfigError, so the CLI says so in one line instead of a traceback."""


@dataclass
class SandboxAws:
    """A running moto server and the environment that points boto3 at it."""

    endpoint: str
    server: object = field(repr=False)
    previous_env: dict[str, str | None] = field(default_factory=dict, repr=False)

    def stop(self) -> None:
        stop = getattr(self.server, "stop", None)
        if stop is not None:
            stop()
        for key, value in self.previous_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def start_sandbox_aws() -> SandboxAws:
    """Start moto on 127.0.0.1:<free port> and point this process's boto3 at it."""
    try:
        from moto.server import ThreadedMotoServer  # imported here: only the sandbox needs moto
    except ImportError as exc:
        raise SandboxNotInstalled(
            f"the embedded sandbox needs moto ({exc}); install it with: pip install 'rdsbot[sandbox]'"
        ) from None

    from aws.sandbox.moto_rules import apply_aws_rules

    apply_aws_rules()  # the AWS rules moto leaves out, where rdsbot depends on them
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per AWS call buries the output
    logging.getLogger("werkzeug").addFilter(_QUIET_GAPS)  # the same object each time: added once
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {**SANDBOX_ENV, "AWS_ENDPOINT_URL": endpoint}
    previous = {key: os.environ.get(key) for key in [*env, "AWS_PROFILE", "AWS_SESSION_TOKEN"]}
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.update(env)
    return SandboxAws(endpoint=endpoint, server=server, previous_env=previous)


@dataclass(frozen=True)
class Seeded:
    """What the seed made that a user has to name: the KMS key that encrypted the demo .pvk's password."""

    tde_password_key_arn: str


def _seed_tde(s3: Any, bucket: str, region: str) -> str:
    """The TDE demo: an encrypted backup, its certificate and private key; the password key's ARN."""
    kms = boto3.client("kms", region_name=region)
    key_arn = str(kms.create_key(Description="rdsbot sandbox: TDE private key password")["KeyMetadata"]["Arn"])
    kms.create_alias(AliasName=DEMO_TDE_PASSWORD_KEY_ALIAS, TargetKeyId=key_arn)
    blob = kms.generate_data_key(KeyId=key_arn, KeySpec="AES_256")["CiphertextBlob"]
    content = {**DEMO_DATABASE, "tde_thumbprint": certificate_thumbprint(DEMO_TDE_CERTIFICATE)}
    s3.put_object(Bucket=bucket, Key=DEMO_TDE_BACKUP_KEY, Body=manifest_bytes(content))
    s3.put_object(Bucket=bucket, Key=DEMO_TDE_CERTIFICATE_KEY, Body=DEMO_TDE_CERTIFICATE)
    s3.put_object(
        Bucket=bucket,
        Key=DEMO_TDE_PRIVATE_KEY_KEY,
        Body=b"sandbox private key",
        Metadata={PASSWORD_METADATA: base64.b64encode(blob).decode()},
    )
    return key_arn


def seed_sandbox(policy: Policy, backup_bytes: int = 512 * 1024) -> Seeded:
    """Buckets with a single-file and a multi-file backup, a TDE backup with its certificate, the audit bucket, and
    the admin IAM group."""
    region = policy.region.default
    s3 = boto3.client("s3", region_name=region)
    buckets = {*policy.backups.buckets, *([policy.audit.bucket] if policy.audit.bucket else [])}
    for bucket in sorted(buckets):
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    trail = policy.audit.trail_bucket
    if trail and trail not in buckets:  # a trail bucket of its own, locked when the policy locks the trail
        locked = {"ObjectLockEnabledForBucket": True} if policy.audit.object_lock else {}
        where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=trail, **locked, **where)
    if policy.audit.bucket:  # as a real audit bucket must be (rdsbot doctor checks it)
        block = dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
        )
        s3.put_public_access_block(Bucket=policy.audit.bucket, PublicAccessBlockConfiguration=block)
    # The manifest gives the restored database believable content, so drill checks can pass or fail for real.
    payload = manifest_bytes(DEMO_DATABASE, backup_bytes)
    s3.put_object(Bucket=policy.backups.default_bucket, Key=DEMO_BACKUP_KEY, Body=payload)
    for part in range(1, 4):
        s3.put_object(Bucket=policy.backups.default_bucket, Key=f"{DEMO_MULTI_FILE_PREFIX}{part}.bak", Body=payload)
    for key in DEMO_CHAIN_KEYS:  # each step's manifest is the database as of that backup: the same demo tables
        s3.put_object(Bucket=policy.backups.default_bucket, Key=key, Body=manifest_bytes(DEMO_DATABASE))
    tde_password_key = _seed_tde(s3, policy.backups.default_bucket, region)
    iam = boto3.client("iam", region_name=region)
    group = policy.approvals.admin_iam_group
    iam.create_group(GroupName=group)
    for name, (slack_id, admin) in SANDBOX_USERS.items():
        iam.create_user(
            UserName=name,
            Tags=[{"Key": "slack-user-id", "Value": slack_id}, {"Key": "email", "Value": f"{name}@example.com"}],
        )
        if admin:
            iam.add_user_to_group(GroupName=group, UserName=name)
    return Seeded(tde_password_key_arn=tde_password_key)
