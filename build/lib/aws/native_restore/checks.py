"""Drill validation queries over the same DB-API driver as the restore: values bound, identifiers quoted by
QUOTENAME on the server (and refused by rdsbot unless they are plain identifiers), never formatted into text."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws.native_restore.client import Connect, connection_failure, driver_message
from aws.native_restore.procedures import first_rows
from bot.domain import InstanceState
from bot.drills.spec import DbccCheckdb, DjangoMigrations, DrillCheck, RowCountAtLeast, TableExists, split_table
from bot.errors import TransientError
from bot.ports import CheckResult

log = logging.getLogger(__name__)

# The exact texts sent; pytds turns each %s into a bound @Pn parameter of sp_executesql.
TABLE_EXISTS = (
    "SELECT CASE WHEN OBJECT_ID(QUOTENAME(%s) + N'.' + QUOTENAME(%s) + N'.' + QUOTENAME(%s), N'U') IS NULL "
    "THEN 0 ELSE 1 END AS table_found"
)
# A table name cannot be a parameter, so the server builds the statement with QUOTENAME around bound values.
ROW_COUNT = (
    "DECLARE @sql nvarchar(max) = N'SELECT COUNT_BIG(*) AS row_count FROM ' + QUOTENAME(%s) + N'.' + "
    "QUOTENAME(%s) + N'.' + QUOTENAME(%s); EXEC sys.sp_executesql @sql"
)
CHECKDB = (
    "DECLARE @sql nvarchar(max) = N'DBCC CHECKDB (' + QUOTENAME(%s) + N') WITH NO_INFOMSGS, ALL_ERRORMSGS'; "
    "EXEC sys.sp_executesql @sql; SELECT 1 AS checkdb_clean"
)
DJANGO_MIGRATIONS = (
    "DECLARE @sql nvarchar(max) = N'SELECT app, name FROM ' + QUOTENAME(%s) + N'.[dbo].[django_migrations]'; "
    "EXEC sys.sp_executesql @sql"
)


@dataclass(frozen=True)
class CheckQuery:
    sql: str
    values: tuple[str, ...]


def query_for(database: str, check: DrillCheck) -> CheckQuery:
    """The statement and bound values that answer `check` on `database`."""
    if isinstance(check, TableExists):
        return CheckQuery(TABLE_EXISTS, (database, *split_table(check.table)))
    if isinstance(check, RowCountAtLeast):
        return CheckQuery(ROW_COUNT, (database, *split_table(check.table)))
    if isinstance(check, DbccCheckdb):
        return CheckQuery(CHECKDB, (database,))
    return CheckQuery(DJANGO_MIGRATIONS, (database,))


def judge(check: DrillCheck, rows: list[dict[str, Any]]) -> tuple[bool, str]:
    """Whether the rows meet the check's expectation, and why in words."""
    if isinstance(check, TableExists):
        found = bool(rows and int(rows[0].get("table_found") or 0))
        return found, "found" if found else f"no table {check.table}"
    if isinstance(check, RowCountAtLeast):
        count = int(rows[0]["row_count"]) if rows else 0
        return count >= check.at_least, f"{count} rows (at least {check.at_least} expected)"
    if isinstance(check, DbccCheckdb):
        return bool(rows), "no consistency errors" if rows else "DBCC CHECKDB gave no answer"
    return _judge_django(check, rows)


def _judge_django(check: DjangoMigrations, rows: list[dict[str, Any]]) -> tuple[bool, str]:
    applied: dict[str, set[str]] = {}
    for row in rows:
        applied.setdefault(str(row["app"]), set()).add(str(row["name"]))
    problems = []
    for app, latest in sorted(check.apps.items()):
        if latest not in applied.get(app, set()):
            newest = max(applied.get(app, set()), default=None)
            problems.append(f"{app} lacks {latest} (newest applied: {newest or 'none'})")
    if problems:
        return False, "; ".join(problems)
    return True, ", ".join(f"{app} at {name}" for app, name in sorted(check.apps.items()))


class SqlDrillChecks:
    """The DrillChecks port over a DB-API connection (python-tds, or the sandbox server)."""

    def __init__(self, connect: Connect, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._connect = connect
        self._monotonic = monotonic

    def run_check(self, instance: InstanceState, database: str, check: DrillCheck) -> CheckResult:
        """Run one check; the server's refusal (missing table, corruption) is a failed check, not an exception."""
        query = query_for(database, check)
        began = self._monotonic()
        try:
            connection = self._connect(instance)
        except Exception as exc:  # the port says why a check could not run; the runner retries transient ones
            raise TransientError(connection_failure(instance, exc)) from None
        try:
            cursor = connection.cursor()
            cursor.execute(query.sql, query.values)
            rows = first_rows(cursor)
        except Exception as exc:  # every driver has its own exception tree; the server's words are what matter
            return CheckResult(label=check.label, passed=False, detail=driver_message(exc), seconds=self._took(began))
        finally:
            try:
                connection.close()
            except Exception:  # closing after the answer changes nothing for the check
                log.debug("close failed", exc_info=True)
        passed, detail = judge(check, rows)
        return CheckResult(label=check.label, passed=passed, detail=detail, seconds=self._took(began))

    def _took(self, began: float) -> float:
        return round(self._monotonic() - began, 3)
