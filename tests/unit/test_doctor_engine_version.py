"""rdsbot doctor says which engine version a restore would get, from the listing a restore reads
(DescribeOrderableDBInstanceOptions, AWS API reference "API_DescribeOrderableDBInstanceOptions") and by the
restore's own rules (bot/engine_versions.py): ok with the version, warn when nothing is listed (RDS picks its default
of the major, API reference "API_CreateDBInstance" EngineVersion), FAIL when the major or pin is not orderable."""

from __future__ import annotations

from typing import Any

from bot.doctor import CheckResult, Status
from bot.doctor_engine_version import USAGE_CLASS, engine_version_checks
from bot.errors import AwsError
from bot.orderable import OrderableOptions
from config.policy_model import Policy, parse_policy
from tests.support.factories import drill_data
from tests.unit.fakes import FakeAws

# String order would pick 15.00.4415 over 15.00.10000; the newest of 15.00 is the 10000 one.
OFFERED = {"14.00.3465.1.v1", "15.00.4415.2.v1", "15.00.10000.1.v1", "16.00.4140.3.v1"}


def policy(engine: dict[str, Any] | None = None, drills: list[dict[str, Any]] | None = None) -> Policy:
    data: dict[str, Any] = {"backups": {"default_bucket": "rdsbot-backups"}, "engine": engine or {}}
    return parse_policy({**data, "drills": [drill_data()] if drills is None else drills})


def listing(classes: set[str] | None, versions: set[str] = OFFERED) -> FakeAws:
    aws = FakeAws()
    aws.orderable, aws.engine_versions = classes, versions
    return aws


def check(aws: FakeAws, p: Policy, region: str = "us-east-1") -> CheckResult:
    [result] = engine_version_checks(aws, p, region)
    return result


def test_ok_names_the_newest_version_of_the_major_for_the_drills_class():
    aws = listing({"db.m6i.large"})
    result = check(aws, policy())
    assert (result.status, result.check) == (Status.OK, "engine version")
    assert result.subject == "sqlserver-se 15.00 on db.m6i.large in us-east-1 (drills nightly)"
    assert result.detail == "a restore gets 15.00.10000.1.v1, the newest 15.00 orderable for db.m6i.large"
    assert aws.listings_asked == ["sqlserver-se"]


def test_a_region_listing_nothing_is_a_warning_that_rds_picks_its_default_of_the_major():
    result = check(listing(None), policy(engine={"major_version": "16.00"}))
    assert result.status == Status.WARN
    assert (
        result.detail
        == "RDS lists none: the instance gets RDS's default 16.00 version, as none is listed to choose from"
    )


def test_a_major_not_orderable_for_the_class_fails_naming_what_is():
    aws = listing({"db.m6i.large"}, {"14.00.3465.1.v1", "16.00.4140.3.v1", "16.00.4131.2.v1"})
    result = check(aws, policy())
    assert (result.status, result.detail, result.fix) == (
        Status.FAIL,
        "us-east-1 offers no 15.00 version of sqlserver-se for db.m6i.large; it offers "
        "14.00.3465.1.v1, 16.00.4140.3.v1 for that class",
        "set engine.major_version to 16.00, or change drills' instance_class",
    )


def test_a_pinned_version_is_ok_only_when_orderable_for_the_class():
    pinned = policy(engine={"engine_version": "15.00.4415.2.v1"})
    ok = check(listing({"db.m6i.large"}), pinned)
    # The pin, not the newer 15.00.10000.1.v1: a restore sends what the policy pins.
    assert (ok.status, ok.detail) == (Status.OK, "a restore gets the pinned 15.00.4415.2.v1 (engine.engine_version)")
    assert ok.subject.startswith("sqlserver-se 15.00.4415.2.v1 on db.m6i.large")
    gone = check(listing({"db.m6i.large"}, OFFERED - {"15.00.4415.2.v1"}), pinned)
    assert gone.status == Status.FAIL
    assert gone.detail == (
        "us-east-1 offers no 15.00.4415.2.v1 of sqlserver-se for db.m6i.large; it offers 15.00.10000.1.v1 "
        "for that class"
    )
    assert gone.fix == "set engine.engine_version to 15.00.10000.1.v1, or remove it to take the newest 15.00"


def test_a_pinned_version_of_another_major_fails_even_when_orderable():
    # The option group rdsbot makes serves engine.major_version; an instance of another major cannot use it.
    result = check(listing({"db.m6i.large"}), policy(engine={"engine_version": "16.00.4140.3.v1"}))
    assert result.status == Status.FAIL
    assert result.detail == "16.00.4140.3.v1 is not a 15.00 version, and rdsbot's option group serves 15.00 only"


def test_a_pin_with_nothing_listed_is_a_warning_that_it_goes_unchecked():
    result = check(listing(None), policy(engine={"engine_version": "15.00.4415.2.v1"}))
    assert result.status == Status.WARN and "the pinned 15.00.4415.2.v1 is sent unchecked" in result.detail


def test_with_no_drill_in_the_region_the_usage_class_and_the_policy_edition_are_checked():
    aws = listing({USAGE_CLASS})
    result = check(aws, policy(engine={"edition": "ee"}), region="us-west-2")
    assert aws.listings_asked == ["sqlserver-ee"]
    assert result.status == Status.OK
    assert result.subject == "sqlserver-ee 15.00 on db.m5.large in us-west-2 (no drill here; the usage lines' class)"


def test_each_drills_own_edition_and_class_is_checked_once():
    drills = [
        drill_data(name="a"),
        drill_data(name="b"),
        drill_data(name="c", instance_class="db.r6i.xlarge", engine={"edition": "web"}),
    ]
    aws = listing({"db.m6i.large", "db.r6i.xlarge"})
    results = engine_version_checks(aws, policy(drills=drills), "us-east-1")
    assert aws.listings_asked == ["sqlserver-se", "sqlserver-web"]  # one listing per edition, not per drill
    assert [r.subject.rsplit("(", 1)[1] for r in results] == ["drills a, b)", "drills c)"]


def test_a_drill_class_the_region_does_not_list_fails_and_the_usage_class_only_warns():
    aws = listing({"db.m6i.xlarge"})
    drill = check(aws, policy())
    assert (drill.status, drill.detail) == (
        Status.FAIL,
        "db.m6i.large is not orderable for sqlserver-se, so no version is",
    )
    assert drill.fix == "set drills' instance_class to an orderable one, e.g. db.m6i.xlarge"
    usage = check(aws, policy(drills=[]))
    assert usage.status == Status.WARN and usage.detail.endswith(
        "restores must name an orderable class, e.g. db.m6i.xlarge"
    )


def test_rds_that_cannot_be_asked_is_a_warning_never_ok():
    class Unreachable(FakeAws):
        def orderable_options(
            self, engine: str, *, engine_version: str | None = None, instance_class: str | None = None
        ) -> OrderableOptions:
            raise AwsError("DescribeOrderableDBInstanceOptions", "AccessDenied", "not authorized")

    result = check(Unreachable(), policy())
    assert result.status == Status.WARN
    assert (
        result.detail == "could not ask RDS: DescribeOrderableDBInstanceOptions failed (AccessDenied): not authorized"
    )
