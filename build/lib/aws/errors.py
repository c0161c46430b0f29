"""botocore failures turned into bot.errors.AwsError, keeping the AWS error code and request id."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from bot.errors import AwsError

# Codes AWS uses for "that thing does not exist"; the suffix rule below catches the EC2/RDS families.
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NoSuchBucket", "NoSuchEntity", "NotFound", "DBInstanceNotFound"})
_NOT_FOUND_SUFFIXES = (".NotFound", "NotFoundFault", "NotFoundException")


@contextmanager
def aws_call(operation: str) -> Iterator[None]:
    """Run the body, re-raising any botocore failure as AwsError(operation, code, message, request_id)."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        metadata = exc.response.get("ResponseMetadata", {})
        code = str(error.get("Code") or "Unknown")
        message = str(error.get("Message") or exc)
        # S3 HEAD answers carry no body, so the request id may be empty; None reads better in the audit trail.
        request_id = metadata.get("RequestId") or None
        raise AwsError(operation, code, message, request_id) from exc
    except ResponseParserError as exc:
        # An answer that is not AWS's XML/JSON, e.g. an endpoint's HTML error page for an action it lacks (moto).
        raise AwsError(operation, "UnparsableResponse", str(exc).splitlines()[0]) from exc
    except BotoCoreError as exc:
        # No response at all (endpoint unreachable, no credentials): the exception class is the best code we have.
        raise AwsError(operation, type(exc).__name__, str(exc)) from exc


def is_not_found(error: AwsError | str) -> bool:
    """Whether an AwsError (or bare AWS error code) means the resource does not exist."""
    code = error if isinstance(error, str) else error.code
    return code in _NOT_FOUND_CODES or code.endswith(_NOT_FOUND_SUFFIXES)
