"""A /rds-restore preflight reads DescribeOrderableDBInstanceOptions once: one listing of the engine's (class,
version) pairs answers both whether the class is orderable and which version of the major it gets (it used to list
the classes, then list again for the class's versions). On a real boto3 RDS client with botocore's Stubber, since
moto lists nothing for SQL Server: Stubber answers only the calls queued here and refuses any other call or
parameter, so the count below is every call the preflight made to RDS (API reference
"API_DescribeOrderableDBInstanceOptions": Engine, MaxRecords at most 1000, paged by Marker)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from aws.instances import Instances
from bot.errors import RequestError
from bot.parser import parse_restore_command
from bot.policy import plan_restore
from bot.preflight import preflight
from config.policy_model import Policy, parse_policy
from tests.support.factories import BOT_NETWORK
from tests.support.orderable_stand_in import OrderableStandIn, offers
from tests.support.stubbed import stubbed_client
from tests.unit.fakes import FakeAws

POLICY = parse_policy({"backups": {"default_bucket": "rdsbot-backups"}, "network": BOT_NETWORK})
LISTING = {"Engine": "sqlserver-se", "MaxRecords": 1000}
VERSIONS = ("14.00.3465.1.v1", "15.00.4415.2.v1", "15.00.4430.1.v1", "16.00.4140.3.v1")


@pytest.fixture
def rds() -> Iterator[tuple[Any, Stubber, list[str]]]:
    calls: list[str] = []
    with stubbed_client("rds") as (client, stubber):
        # before-parameter-build: each call passes it before the Stubber (a before-call hook) answers in AWS's stead.
        client.meta.events.register("before-parameter-build.rds", lambda model, **_: calls.append(model.name))
        yield client, stubber, calls


def rows(*classes: str) -> list[dict[str, str]]:
    return [{"Engine": "sqlserver-se", "DBInstanceClass": c, "EngineVersion": v} for c in classes for v in VERSIONS]


def checked(client: Any, text: str, policy: Policy = POLICY) -> dict[str, Any]:
    """The preflight of `text` with the real RDS listing and the fakes for the rest (S3, KMS, STS)."""
    aws = FakeAws(objects={"rdsbot-backups/prod-backup.bak": 2**30})
    gateways = dataclasses.replace(aws.gateways(), instances=Instances(client))
    return preflight(plan_restore(parse_restore_command(text), policy, "j1"), gateways, policy).plan_updates


def test_a_preflight_lists_the_engine_once_for_the_class_and_its_version(rds) -> None:
    client, stubber, calls = rds
    listed = rows("db.m5.large", "db.m6i.large", "db.r6i.xlarge")
    stubber.add_response(
        "describe_orderable_db_instance_options", {"OrderableDBInstanceOptions": listed[:5], "Marker": "m"}, LISTING
    )
    stubber.add_response(
        "describe_orderable_db_instance_options",
        {"OrderableDBInstanceOptions": listed[5:]},
        {**LISTING, "Marker": "m"},
    )
    assert checked(client, "prod-backup.bak db.m6i.large") == {"engine_version": "15.00.4430.1.v1"}
    assert calls == ["DescribeOrderableDBInstanceOptions"] * 2  # the listing's two pages, and nothing more


def test_a_class_the_listing_lacks_is_refused_from_the_same_one_listing(rds) -> None:
    client, stubber, calls = rds
    stubber.add_response(
        "describe_orderable_db_instance_options", {"OrderableDBInstanceOptions": rows("db.m6i.large")}, LISTING
    )
    with pytest.raises(RequestError) as refused:
        checked(client, "prod-backup.bak db.m5.xlarge")
    assert (refused.value.field, refused.value.message) == (
        "instance_class",
        "db.m5.xlarge is not orderable for sqlserver-se in us-east-1",
    )
    assert calls == ["DescribeOrderableDBInstanceOptions"]


# A region's listing at a size RDS reaches for SQL Server: 12 classes x 8 versions x 4 storage types = 384 rows.
CLASSES = [
    f"db.{family}.{size}" for family in ("m5", "m6i", "r6i") for size in ("large", "xlarge", "2xlarge", "4xlarge")
]
ALL_VERSIONS = [f"{major}.{minor}.1.v1" for major in ("14.00", "15.00") for minor in (3465, 3470, 4415, 4430)]
REGION = offers("sqlserver-se", CLASSES, ALL_VERSIONS, ("gp2", "gp3", "io1", "io2"))


def standing_in() -> tuple[Any, OrderableStandIn]:
    client = boto3.client("rds", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    stand_in = OrderableStandIn(list(REGION))
    stand_in.attach(client)
    return client, stand_in


def test_the_stand_in_refuses_a_page_larger_than_rds_gives_and_pages_by_100_unasked() -> None:
    """Strict as RDS: without these rules a preflight that asked for 5000 a page, or relied on one page, passes."""
    client, stand_in = standing_in()
    with pytest.raises(ClientError, match="InvalidParameterValue"):
        client.describe_orderable_db_instance_options(Engine="sqlserver-se", MaxRecords=1001)
    first = client.describe_orderable_db_instance_options(Engine="sqlserver-se")
    assert len(first["OrderableDBInstanceOptions"]) == 100 and first["Marker"]
    assert stand_in.requests[-1] == {
        "Action": "DescribeOrderableDBInstanceOptions",
        "Version": "2014-10-31",
        "Engine": "sqlserver-se",
    }


def test_a_preflight_costs_one_listing_of_the_engine_at_the_largest_page() -> None:
    client, stand_in = standing_in()
    assert checked(client, "prod-backup.bak db.m6i.xlarge") == {"engine_version": "15.00.4430.1.v1"}
    # 384 rows at 1000 a page: one call. The classes-then-versions preflight made 4 + 1 at the default 100 a page.
    assert [r.get("DBInstanceClass") for r in stand_in.requests] == [None]
    assert [r["MaxRecords"] for r in stand_in.requests] == ["1000"]


def pinned(version: str) -> Policy:
    return parse_policy(
        {"backups": {"default_bucket": "rdsbot-backups"}, "network": BOT_NETWORK, "engine": {"engine_version": version}}
    )


def test_a_pinned_version_lists_only_its_own_rows_and_a_refusal_asks_for_the_class_alone() -> None:
    client, stand_in = standing_in()
    assert checked(client, "prod-backup.bak db.m6i.xlarge", pinned("15.00.4415.1.v1")) == {}
    assert [(r.get("EngineVersion"), r.get("DBInstanceClass")) for r in stand_in.requests] == [
        ("15.00.4415.1.v1", None)
    ]
    stand_in.requests.clear()
    with pytest.raises(RequestError) as refused:
        checked(client, "prod-backup.bak db.m6i.xlarge", pinned("15.00.9999.1.v1"))
    assert refused.value.field == "engine_version" and "it offers 15.00.3465.1.v1" in refused.value.message
    asked = [(r.get("EngineVersion"), r.get("DBInstanceClass")) for r in stand_in.requests]
    assert asked == [("15.00.9999.1.v1", None), (None, "db.m6i.xlarge")]  # two narrow listings, never the whole
