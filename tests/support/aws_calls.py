"""Record the AWS API calls made through a set of clients, to prove what a step did (or did not) do."""

from __future__ import annotations

from typing import Any

from aws.clients import AwsClients

_READ_ONLY_PREFIXES = ("Describe", "List", "Get", "Head")


class CallRecorder:
    """(service, operation) for every API call the clients make, in order; attach, act, then inspect."""

    def __init__(self, clients: AwsClients) -> None:
        self.calls: list[tuple[str, str]] = []
        self._clients = clients
        self._hook_id = f"rdsbot-call-recorder-{id(self)}"
        for client in clients.all().values():
            client.meta.events.register("before-call", self._before_call, unique_id=self._hook_id)

    def _before_call(self, model: Any, **_: Any) -> None:
        # Must return None: a value returned from a before-call hook would replace the real response.
        self.calls.append((model.service_model.service_name, model.name))

    @property
    def operations(self) -> list[str]:
        """Operation names only, in call order."""
        return [operation for _, operation in self.calls]

    @property
    def mutating(self) -> list[tuple[str, str]]:
        """Calls that may change something: every operation not named Describe*, List*, Get* or Head*."""
        return [(s, op) for s, op in self.calls if not op.startswith(_READ_ONLY_PREFIXES)]

    def count(self, operation: str) -> int:
        """How many times `operation` (e.g. "CreateDBInstance") was called."""
        return self.operations.count(operation)

    def clear(self) -> None:
        """Forget what was recorded so far, keep recording."""
        self.calls.clear()

    def detach(self) -> None:
        """Stop recording."""
        for client in self._clients.all().values():
            client.meta.events.unregister("before-call", unique_id=self._hook_id)
