"""Engine versions compared as RDS numbers them, and each refusal (bot/engine_versions.py) as the requester or the
doctor shows it: the field, the reason naming what the region does offer, and the hint, pinned as written."""

from __future__ import annotations

import pytest

from bot.engine_versions import check_pinned, newest_of_major, newest_per_major, resolve, version_key
from bot.errors import RequestError

WHERE = ("sqlserver-se", "db.m5.large", "us-east-1")


def refusal(call: object) -> tuple[str, str, str | None]:
    with pytest.raises(RequestError) as refused:
        call()  # type: ignore[operator]
    return refused.value.field, refused.value.message, refused.value.hint


def test_a_part_that_is_no_number_sorts_below_every_number():
    assert version_key("15.00.4415.2.v1") == (15, 0, 4415, 2, 1)
    assert version_key("15.00.4415.2.beta") == (15, 0, 4415, 2, -1)
    assert newest_of_major(["15.00.4415.2.beta", "15.00.4415.2.v1"], "15.00") == "15.00.4415.2.v1"


def test_the_newest_of_each_major_is_listed_oldest_major_first_by_number_not_by_text():
    versions = ["10.50.6000.34.v1", "9.00.5000.00.v1", "15.00.4415.2.v1", "9.00.5324.00.v1"]
    assert newest_per_major(versions) == ["9.00.5324.00.v1", "10.50.6000.34.v1", "15.00.4415.2.v1"]


def test_a_region_offering_nothing_for_the_class_says_so_and_suggests_another_class():
    assert refusal(lambda: resolve(set(), "15.00", *WHERE)) == (
        "major_version",
        "us-east-1 offers no 15.00 version of sqlserver-se for db.m5.large; it offers no version at all for that class",
        "try another class",
    )


def test_a_major_the_region_lacks_names_the_newest_it_has_and_that_major():
    offered = {"13.00.6435.1.v1", "14.00.3465.1.v1", "16.00.4095.4.v1", "16.00.4120.1.v1"}
    assert refusal(lambda: resolve(offered, "15.00", *WHERE)) == (
        "major_version",
        "us-east-1 offers no 15.00 version of sqlserver-se for db.m5.large; it offers 13.00.6435.1.v1, "
        "14.00.3465.1.v1, 16.00.4120.1.v1 for that class",
        "try another class, or --major-version 16.00",  # the newest major offered
    )


def test_a_pinned_version_of_another_major_is_refused_naming_both_policy_keys():
    assert refusal(lambda: check_pinned({"16.00.4120.1.v1"}, "16.00.4120.1.v1", "15.00", *WHERE)) == (
        "engine_version",
        "16.00.4120.1.v1 is not a 15.00 version, and rdsbot's option group serves 15.00 only",
        "set engine.engine_version to a 15.00 version, or engine.major_version to 16.00",
    )


def test_a_pinned_version_not_offered_names_the_offered_ones_of_its_major_and_the_newest():
    offered = {"15.00.4415.2.v1", "15.00.4316.3.v1", "16.00.4120.1.v1"}
    assert refusal(lambda: check_pinned(offered, "15.00.4198.2.v1", "15.00", *WHERE)) == (
        "engine_version",
        "us-east-1 offers no 15.00.4198.2.v1 of sqlserver-se for db.m5.large; it offers 15.00.4316.3.v1, "
        "15.00.4415.2.v1 for that class",
        "set engine.engine_version to 15.00.4415.2.v1, or remove it to take the newest 15.00",
    )
    assert check_pinned(offered, "15.00.4316.3.v1", "15.00", *WHERE) == "15.00.4316.3.v1"


def test_a_pinned_version_whose_major_is_not_offered_at_all_names_every_major_or_none():
    offered = {"14.00.3465.1.v1", "16.00.4120.1.v1", "16.00.4095.4.v1"}
    assert refusal(lambda: check_pinned(offered, "15.00.4198.2.v1", "15.00", *WHERE)) == (
        "engine_version",
        "us-east-1 offers no 15.00.4198.2.v1 of sqlserver-se for db.m5.large; it offers 14.00.3465.1.v1, "
        "16.00.4120.1.v1 for that class",
        "choose another class",
    )
    assert refusal(lambda: check_pinned(set(), "15.00.4198.2.v1", "15.00", *WHERE))[1:] == (
        "us-east-1 offers no 15.00.4198.2.v1 of sqlserver-se for db.m5.large; it offers no version at all for that "
        "class",
        "choose another class",
    )
