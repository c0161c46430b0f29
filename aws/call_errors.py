"""Counts the AWS calls that failed, by service and error code, through botocore's own event hooks: every client
is covered without wrapping a single call site, and each retried attempt that failed counts once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# (service, code): "rds", "DBInstanceNotFound"; a call that got no answer counts under its exception's class name.
ErrorSink = Callable[[str, str], None]


class CallErrorCounter:
    def __init__(self, on_error: ErrorSink) -> None:
        self._on_error = on_error

    def attach(self, client: Any) -> None:
        events = client.meta.events
        events.register("after-call", self._after_call, unique_id=f"rdsbot-call-errors-{id(self)}")
        events.register("after-call-error", self._after_call_error, unique_id=f"rdsbot-call-errors-x-{id(self)}")

    def _after_call(self, model: Any, parsed: Any = None, **_: Any) -> None:
        error = (parsed or {}).get("Error") or {}
        if error.get("Code"):
            self._on_error(model.service_model.service_name, str(error["Code"]))

    def _after_call_error(self, model: Any = None, exception: BaseException | None = None, **_: Any) -> None:
        if model is not None and exception is not None:
            self._on_error(model.service_model.service_name, type(exception).__name__)
