"""Errors are values a user can act on: each names what was wrong and, where we can, what to do instead."""

from __future__ import annotations


class RdsbotError(Exception):
    """Base of every error rdsbot raises on purpose; its str() is safe to show in chat."""


class RequestError(RdsbotError):
    """A restore request that cannot be accepted; `field` names the part of the request at fault."""

    def __init__(self, field: str, message: str, hint: str | None = None) -> None:
        self.field = field
        self.message = message
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = f"{self.field}: {self.message}"
        return f"{text}; {self.hint}" if self.hint else text


class ConfigError(RdsbotError):
    """The settings or the YAML policy are invalid; raised at start, before anything runs."""


class AwsError(RdsbotError):
    """An AWS call failed; the AWS error code and request id are kept for the audit trail."""

    def __init__(self, operation: str, code: str, message: str, request_id: str | None = None) -> None:
        self.operation = operation
        self.code = code
        self.message = message
        self.request_id = request_id
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"{self.operation} failed ({self.code}): {self.message}"


class RestoreTaskError(RdsbotError):
    """The SQL Server native restore task ended in ERROR or CANCELLED; `reason` is in plain words."""

    def __init__(self, reason: str, task_info: str = "") -> None:
        self.reason = reason
        self.task_info = task_info
        super().__init__(reason)


class TransientError(RdsbotError):
    """A failure that is likely to pass (a connection blip); a waiting stage retries instead of failing the job."""


class StageError(RdsbotError):
    """A workflow stage cannot continue; the job fails with this reason."""


class UnknownJobError(RdsbotError):
    """The job id names no stored job."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"job {job_id} does not exist")


class DuplicateJobError(RdsbotError):
    """A job with this id is already stored."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"job {job_id} already exists")
