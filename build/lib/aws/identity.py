"""Who the bot is on AWS: its partition and account id, from sts:GetCallerIdentity (no permission needed), asked
once per region and shared by everything that needs it (KMS key checks, the roles' trust policies)."""

from __future__ import annotations

from typing import Any

from aws.errors import aws_call


class CallerIdentity:
    """AccountIdentity over STS."""

    def __init__(self, sts: Any) -> None:
        self._sts = sts
        self._caller: tuple[str, str] | None = None

    def account_id(self) -> str:
        """The account the bot's credentials belong to; the default of kms.allowed_accounts."""
        return self._partition_and_account()[1]

    def partition(self) -> str:
        """aws, aws-us-gov or aws-cn: the partition of the bot's credentials."""
        return self._partition_and_account()[0]

    def _partition_and_account(self) -> tuple[str, str]:
        if self._caller is None:
            with aws_call("GetCallerIdentity"):
                identity = self._sts.get_caller_identity()
            self._caller = (str(identity["Arn"]).split(":")[1], str(identity["Account"]))
        return self._caller
