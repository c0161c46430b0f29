"""DB-API-like connections and cursors to the emulated server, shaped like python-tds's so SqlNativeRestore and
SqlDrillChecks run the same code path on either."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from aws.sandbox.sql_server.results import ResultSet, SandboxSqlError, SqlParam
from bot.domain import InstanceState


class StatementRunner(Protocol):
    """The server side of a cursor's execute."""

    def execute(
        self, instance: InstanceState, autocommit: bool, sql: str, params: Sequence[SqlParam]
    ) -> list[ResultSet]: ...


class SandboxCursor:
    """A DB-API-like cursor over the emulated server's result sets."""

    def __init__(self, connection: SandboxConnection) -> None:
        self._connection = connection
        self._sets: list[ResultSet] = []
        self._index = 0
        self._closed = False

    @property
    def description(self) -> tuple[tuple[str, None, None, None, None, None, None], ...] | None:
        current = self._current()
        if current is None or current.columns is None:
            return None
        return tuple((name, None, None, None, None, None, None) for name in current.columns)

    @property
    def rowcount(self) -> int:
        current = self._current()
        return -1 if current is None else len(current.rows)

    def execute(self, operation: str, params: Sequence[SqlParam] = ()) -> SandboxCursor:
        if self._closed:
            raise SandboxSqlError(0, "Cursor is closed.")
        self._sets = self._connection.execute(operation, params)
        self._index = 0
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        current = self._current()
        if current is None or current.columns is None:
            raise SandboxSqlError(0, "Previous statement didn't produce any results.")
        rows = list(current.rows)
        current.rows.clear()
        return rows

    def fetchone(self) -> tuple[Any, ...] | None:
        current = self._current()
        if current is None or current.columns is None:
            raise SandboxSqlError(0, "Previous statement didn't produce any results.")
        return current.rows.pop(0) if current.rows else None

    def nextset(self) -> bool | None:
        if self._index + 1 < len(self._sets):
            self._index += 1
            return True
        self._index = len(self._sets)
        return None

    def close(self) -> None:
        self._closed = True

    def _current(self) -> ResultSet | None:
        return self._sets[self._index] if self._index < len(self._sets) else None


class SandboxConnection:
    """A DB-API-like connection to one emulated instance."""

    def __init__(self, server: StatementRunner, instance: InstanceState, autocommit: bool = True) -> None:
        self._server = server
        self._instance = instance
        self.autocommit = autocommit
        self._closed = False

    def cursor(self) -> SandboxCursor:
        if self._closed:
            raise SandboxSqlError(0, "Connection closed.")
        return SandboxCursor(self)

    def execute(self, operation: str, params: Sequence[SqlParam]) -> list[ResultSet]:
        if self._closed:
            raise SandboxSqlError(0, "Connection closed.")
        return self._server.execute(self._instance, self.autocommit, operation, params)

    def commit(self) -> None:
        """Nothing to commit: the emulated procedures apply at once."""

    def rollback(self) -> None:
        """Nothing to roll back."""

    def close(self) -> None:
        self._closed = True
