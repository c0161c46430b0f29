"""The doctor's engine version check on a real boto3 RDS client: moto answers DescribeOrderableDBInstanceOptions
with nothing for SQL Server, so the listing is stubbed with botocore's Stubber in AWS's shape (API reference
"API_DescribeOrderableDBInstanceOptions": Engine, MaxRecords at most 1000; OrderableDBInstanceOptions with
DBInstanceClass and EngineVersion, paged by Marker). Stubber also refuses any call or parameter not expected, so the
checks ask exactly this: one listing of the engine for the class check and the version check together."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from aws.readiness.rds import RdsChecks
from bot.doctor import Status
from config.policy_model import parse_policy
from tests.support.factories import drill_data
from tests.support.stubbed import stubbed_client

POLICY = parse_policy({"backups": {"default_bucket": "rdsbot-backups"}, "drills": [drill_data()]})
LISTING = {"Engine": "sqlserver-se", "MaxRecords": 1000}
FOR_CLASS = {"Engine": "sqlserver-se", "DBInstanceClass": "db.m6i.large"}  # one row of the listing


@pytest.fixture
def rds() -> Iterator[tuple[Any, Stubber]]:
    with stubbed_client("rds") as stubbed:
        yield stubbed


def _options(*versions: str) -> list[dict[str, str]]:
    return [{**FOR_CLASS, "EngineVersion": v} for v in versions]


def test_every_page_is_read_and_the_newest_of_the_major_is_reported(rds):
    client, stubber = rds
    first = {"OrderableDBInstanceOptions": _options("15.00.4415.2.v1", "16.00.4140.3.v1"), "Marker": "m"}
    stubber.add_response("describe_orderable_db_instance_options", first, LISTING)
    last = {"OrderableDBInstanceOptions": _options("15.00.4430.1.v1")}
    stubber.add_response("describe_orderable_db_instance_options", last, {**LISTING, "Marker": "m"})
    [result] = RdsChecks(client, POLICY, "us-east-1").engine_version()
    assert (result.status, result.detail) == (
        Status.OK,
        "a restore gets 15.00.4430.1.v1, the newest 15.00 orderable for db.m6i.large",
    )


def test_a_class_listed_without_the_major_fails_naming_what_it_offers(rds):
    client, stubber = rds
    listed = {"OrderableDBInstanceOptions": _options("14.00.3465.1.v1", "16.00.4140.3.v1")}
    stubber.add_response("describe_orderable_db_instance_options", listed, LISTING)
    [result] = RdsChecks(client, POLICY, "us-east-1").engine_version()
    assert result.status == Status.FAIL
    assert result.detail.endswith("it offers 14.00.3465.1.v1, 16.00.4140.3.v1 for that class")
    assert result.fix is not None and result.fix.startswith("set engine.major_version to 16.00")


def test_an_empty_listing_is_read_once_and_warns_of_rds_default(rds):
    client, stubber = rds
    empty: dict[str, Any] = {"OrderableDBInstanceOptions": []}
    stubber.add_response("describe_orderable_db_instance_options", empty, LISTING)
    [result] = RdsChecks(client, POLICY, "us-east-1").engine_version()
    assert result.status == Status.WARN and "RDS's default 15.00 version" in result.detail


def test_access_denied_is_a_warning_naming_the_call(rds):
    client, stubber = rds
    stubber.add_client_error("describe_orderable_db_instance_options", "AccessDenied", "not authorized", 403)
    [result] = RdsChecks(client, POLICY, "us-east-1").engine_version()
    assert result.status == Status.WARN
    assert result.detail.startswith("could not ask RDS: DescribeOrderableDBInstanceOptions failed (AccessDenied)")


def test_the_class_check_and_the_version_check_share_one_listing(rds):
    client, stubber = rds
    listed = {"OrderableDBInstanceOptions": _options("15.00.4415.2.v1")}
    stubber.add_response("describe_orderable_db_instance_options", listed, LISTING)  # once: a second would fail
    checks = RdsChecks(client, POLICY, "us-east-1")
    [classes] = checks.orderable()
    [version] = checks.engine_version()
    assert (classes.status, classes.detail) == (Status.OK, "1 classes, drills' db.m6i.large among them")
    assert (version.status, version.detail) == (
        Status.OK,
        "a restore gets 15.00.4415.2.v1, the newest 15.00 orderable for db.m6i.large",
    )
