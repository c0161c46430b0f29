"""The drill validation queries, answered the way SQL Server would from what each restored backup holds, so a
check can pass or fail for real: a missing table, too few rows, a corrupt database, an unapplied migration."""

from __future__ import annotations

from collections.abc import Sequence

from aws.native_restore.checks import CHECKDB, DJANGO_MIGRATIONS, ROW_COUNT, TABLE_EXISTS
from aws.sandbox.backup_content import Content
from aws.sandbox.sql_server.results import ResultSet, SandboxSqlError, SqlParam

# Statement text -> check kind: the emulator knows each query by the exact text the driver sends.
CHECK_STATEMENTS = {
    TABLE_EXISTS: "table_exists",
    ROW_COUNT: "row_count",
    CHECKDB: "dbcc_checkdb",
    DJANGO_MIGRATIONS: "django_migrations",
}
# Drill check kind -> how many values its query binds.
CHECK_QUERY_PLACEHOLDERS = {kind: sql.count("%s") for sql, kind in CHECK_STATEMENTS.items()}


def require_bound_strings(kind: str, params: Sequence[SqlParam]) -> None:
    """Refuse the query unless it binds as many strings as it has placeholders."""
    if len(params) != CHECK_QUERY_PLACEHOLDERS[kind] or any(not isinstance(v, str) for v in params):
        raise SandboxSqlError(8144, f"the {kind} query takes {CHECK_QUERY_PLACEHOLDERS[kind]} bound strings")


def answer_check(kind: str, values: list[str], databases: dict[str, Content]) -> ResultSet:
    """Answer one drill check query the way SQL Server would, from the restored databases' manifests."""
    by_name = {name.casefold(): content for name, content in databases.items()}
    database = values[0]
    content = by_name.get(database.casefold())
    if kind == "table_exists":
        found = content is not None and _rows(content, values[1], values[2]) is not None
        return ResultSet(("table_found",), [(1 if found else 0,)])
    if content is None:
        raise SandboxSqlError(911, f"Database '{database}' does not exist.")
    if kind == "row_count":
        rows = _rows(content, values[1], values[2])
        if rows is None:
            raise SandboxSqlError(208, f"Invalid object name '{database}.{values[1]}.{values[2]}'.")
        return ResultSet(("row_count",), [(rows,)])
    if kind == "dbcc_checkdb":
        if content.get("corrupt"):
            raise SandboxSqlError(
                8939, f"Table error: object ID 245575913, index ID 1 in database '{database}' failed a page check."
            )
        return ResultSet(("checkdb_clean",), [(1,)])
    migrations = content.get("django_migrations")
    if migrations is None:
        raise SandboxSqlError(208, f"Invalid object name '{database}.dbo.django_migrations'.")
    return ResultSet(("app", "name"), [(str(app), str(name)) for app, name in migrations])


def _rows(content: Content, schema: str, table: str) -> int | None:
    tables = {str(name).casefold(): int(rows) for name, rows in (content.get("tables") or {}).items()}
    if schema.casefold() == "dbo" and table.casefold() == "django_migrations" and "django_migrations" in content:
        return len(content["django_migrations"])
    return tables.get(f"{schema}.{table}".casefold())
