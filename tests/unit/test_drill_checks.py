"""Drill checks reach SQL Server with values bound and identifiers quoted by QUOTENAME on the server, and the
sandbox server answers them from what the restored backup holds, so a check can pass or fail for real."""

from __future__ import annotations

from typing import Any

import pytest

from aws.native_restore import SqlNativeRestore
from aws.native_restore.checks import SqlDrillChecks, query_for
from aws.sandbox.backup_content import manifest_bytes, parse_manifest
from aws.sandbox.sql_server import SandboxSqlServer
from aws.sandbox.sql_server.drill_checks import CHECK_STATEMENTS
from bot.domain import InstanceState
from bot.drills.spec import DbccCheckdb, DjangoMigrations, RowCountAtLeast, TableExists

INSTANCE = InstanceState(
    instance_id="rdsbot-drill-x", status="available", instance_class="db.m6i.large", endpoint_address="x.local"
)
CONTENT: dict[str, Any] = {"tables": {"dbo.Orders": 1500}, "django_migrations": [["orders", "0031_add_invoice_number"]]}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> tuple[SandboxSqlServer, Clock]:
    clock = Clock()
    contents: dict[str, dict[str, Any]] = {
        "arn:aws:s3:::b/good.bak": CONTENT,
        "arn:aws:s3:::b/corrupt.bak": {**CONTENT, "corrupt": True},
    }
    server = SandboxSqlServer(
        clock=clock, restore_seconds=1, start_delay_seconds=0, backup_content=lambda arn: contents.get(arn)
    )
    native = SqlNativeRestore(server.connect)
    native.start_restore(INSTANCE, "Sales", "arn:aws:s3:::b/good.bak")
    native.start_restore(INSTANCE, "Broken", "arn:aws:s3:::b/corrupt.bak")
    clock.now += 5
    return server, clock


def test_every_query_binds_its_values_and_names_no_identifier_in_its_text():
    for check in (
        TableExists(kind="table_exists", table="sales.orders"),
        RowCountAtLeast(kind="row_count", table="orders", at_least=1),
        DbccCheckdb(kind="dbcc_checkdb"),
        DjangoMigrations(kind="django_migrations", apps={"orders": "0001_initial"}),
    ):
        query = query_for("Sales", check)
        assert query.sql in CHECK_STATEMENTS and query.sql.count("%s") == len(query.values)
        assert "Sales" not in query.sql and "orders" not in query.sql.replace("django_migrations", "")
        assert query.values[0] == "Sales"
    assert query_for("Sales", TableExists(kind="table_exists", table="sales.orders")).values == (
        "Sales",
        "sales",
        "orders",
    )


def test_checks_pass_and_fail_on_what_the_backup_held(server):
    sandbox, _ = server
    checks = SqlDrillChecks(sandbox.connect)
    table = checks.run_check(INSTANCE, "sales", TableExists(kind="table_exists", table="orders"))
    assert table.passed and table.detail == "found"
    assert not checks.run_check(INSTANCE, "Sales", TableExists(kind="table_exists", table="dbo.invoices")).passed
    rows = checks.run_check(INSTANCE, "Sales", RowCountAtLeast(kind="row_count", table="orders", at_least=2000))
    assert not rows.passed and rows.detail == "1500 rows (at least 2000 expected)"
    missing = checks.run_check(INSTANCE, "Sales", RowCountAtLeast(kind="row_count", table="ghost", at_least=0))
    assert not missing.passed and "Invalid object name 'Sales.dbo.ghost'" in missing.detail
    assert checks.run_check(INSTANCE, "Sales", DbccCheckdb(kind="dbcc_checkdb")).passed
    corrupt = checks.run_check(INSTANCE, "Broken", DbccCheckdb(kind="dbcc_checkdb"))
    assert not corrupt.passed and "failed a page check" in corrupt.detail
    django = DjangoMigrations(kind="django_migrations", apps={"orders": "0031_add_invoice_number", "auth": "0012_x"})
    result = checks.run_check(INSTANCE, "Sales", django)
    assert not result.passed and result.detail == "auth lacks 0012_x (newest applied: none)"
    assert [c.procedure for c in sandbox.calls][-1] == "check:django_migrations"


def test_a_query_on_a_database_that_was_never_restored_fails_readably(server):
    sandbox, _ = server
    result = SqlDrillChecks(sandbox.connect).run_check(INSTANCE, "Nope", DbccCheckdb(kind="dbcc_checkdb"))
    assert not result.passed and result.detail == "Database 'Nope' does not exist."


def test_a_manifest_survives_the_round_trip_and_plain_bytes_have_none():
    assert parse_manifest(manifest_bytes(CONTENT, 4096)) == CONTENT
    assert len(manifest_bytes(CONTENT, 4096)) == 4096
    assert parse_manifest(b"TAPE" + b"\0" * 10) is None
