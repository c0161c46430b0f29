"""The AWS request ids of mutating calls, collected per thread so the engine can put them in the next audit event.

Stages run one at a time on the engine's thread: every mutating call made between two audit events of that
thread belongs to the later one (CreateDBInstance lands in `stage.succeeded` of the instance stage).
"""

from __future__ import annotations

import threading
from typing import Any

_READ_ONLY_PREFIXES = ("Describe", "List", "Get", "Head")


class MutatingCallLog:
    """Attach to boto3 clients; `drain()` returns and forgets this thread's mutating calls since the last drain."""

    def __init__(self) -> None:
        self._local = threading.local()

    def attach(self, client: Any) -> None:
        client.meta.events.register("after-call", self._after_call, unique_id=f"rdsbot-request-ids-{id(self)}")

    def drain(self) -> list[dict[str, str]]:
        calls: list[dict[str, str]] = getattr(self._local, "calls", [])
        self._local.calls = []
        return calls

    def _after_call(self, model: Any, parsed: Any = None, **_: Any) -> None:
        # Returns None on purpose: a value returned from an after-call hook is ignored, but keep it explicit.
        if model.name.startswith(_READ_ONLY_PREFIXES):
            return
        metadata = (parsed or {}).get("ResponseMetadata", {})
        call = {"operation": f"{model.service_model.service_name}:{model.name}"}
        if metadata.get("RequestId"):
            call["request_id"] = str(metadata["RequestId"])
        if not hasattr(self._local, "calls"):
            self._local.calls = []
        self._local.calls.append(call)
