"""Who the bot is on AWS: its account id, from sts:GetCallerIdentity (no permission needed), asked once."""

from __future__ import annotations

from typing import Any

from aws.errors import aws_call


class CallerIdentity:
    """AccountIdentity over STS."""

    def __init__(self, sts: Any) -> None:
        self._sts = sts
        self._account_id: str | None = None

    def account_id(self) -> str:
        """The account the bot's credentials belong to; the default of kms.allowed_accounts."""
        if self._account_id is None:
            with aws_call("GetCallerIdentity"):
                self._account_id = str(self._sts.get_caller_identity()["Account"])
        return self._account_id
