"""The boto3 clients rdsbot uses, built once per region with the same retry policy.

The endpoint is deliberately not configurable here: boto3 reads AWS_ENDPOINT_URL itself, which is how tests and
local runs reach a moto server with no special code path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

# Standard mode retries throttling and transient 5xx with backoff. botocore reads max_attempts here as retries
# after the first try (total_max_attempts 6), enough to ride out RDS API throttling.
_RETRIES: dict[str, Any] = {"mode": "standard", "max_attempts": 5}
# botocore presigns S3 URLs with SigV2 unless told otherwise; SSE-KMS objects refuse SigV2, and AWS is retiring
# it (Amazon S3 guide "UsingAWSSDK.html#specify-signature-version"). Only the S3 client: the others sign SigV4.
S3_SIGV4 = Config(signature_version="s3v4")


@dataclass(frozen=True)
class AwsClients:
    """One boto3 client per service rdsbot talks to, all in the same region."""

    s3: Any
    ec2: Any
    iam: Any
    rds: Any
    secretsmanager: Any
    sts: Any
    kms: Any

    def all(self) -> dict[str, Any]:
        """Service name -> client, for code that treats every client alike (call recorders, event hooks)."""
        return {
            "s3": self.s3,
            "ec2": self.ec2,
            "iam": self.iam,
            "rds": self.rds,
            "secretsmanager": self.secretsmanager,
            "sts": self.sts,
            "kms": self.kms,
        }


def make_clients(region: str, session: boto3.Session | None = None, *, max_attempts: int | None = None) -> AwsClients:
    """Clients for `region` from `session` (a default session when None), with standard retries (fewer when
    `max_attempts` says so: rdsbot doctor reports an unanswered call rather than waiting out the backoff)."""
    session = session or boto3.Session()
    retries = _RETRIES if max_attempts is None else {**_RETRIES, "max_attempts": max_attempts}
    config = Config(region_name=region, retries=retries)

    def client(service: str, extra: Config | None = None) -> Any:
        return session.client(service, region_name=region, config=config.merge(extra) if extra else config)

    return AwsClients(
        s3=client("s3", S3_SIGV4),
        ec2=client("ec2"),
        iam=client("iam"),
        rds=client("rds"),
        secretsmanager=client("secretsmanager"),
        sts=client("sts"),
        kms=client("kms"),
    )
