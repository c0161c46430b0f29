"""The master credentials RDS keeps in Secrets Manager for an instance created with ManageMasterUserPassword."""

from __future__ import annotations

import json
from typing import Any

from aws.errors import aws_call
from bot.errors import StageError


def master_credentials(secretsmanager: Any, secret_arn: str) -> tuple[str, str]:
    """(username, password) from the RDS-managed secret; the password is never logged or put in an error."""
    with aws_call("GetSecretValue"):
        secret = secretsmanager.get_secret_value(SecretId=secret_arn)
    try:
        data = json.loads(secret["SecretString"])
        return str(data["username"]), str(data["password"])
    except (KeyError, TypeError, ValueError):
        # `from None`: a JSONDecodeError carries the whole secret text in .doc, and tracebacks chain causes.
        raise StageError(f"secret {secret_arn} does not hold RDS master credentials (username, password)") from None
