"""What crosses between a connection and the emulated server: bound values in, result sets or an error out."""

from __future__ import annotations

from typing import Any, NamedTuple

SqlParam = str | int | None


class SandboxSqlError(Exception):
    """What the emulated server answers when a statement fails; `number` and `text` as python-tds exposes them."""

    def __init__(self, number: int, text: str, severity: int = 16) -> None:
        super().__init__(text)
        self.number = number
        self.text = text
        self.severity = severity

    def __str__(self) -> str:
        return f"SQL Server message {self.number}, severity {self.severity}: {self.text}"


class ResultSet(NamedTuple):
    """One result set; `columns` is None for a statement that returns no rows at all."""

    columns: tuple[str, ...] | None
    rows: list[tuple[Any, ...]]
