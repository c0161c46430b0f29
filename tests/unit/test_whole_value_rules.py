"""Every name rule matches the whole value (a trailing newline is not "the end"), and the policy refuses client
networks wider than its minimum prefix unless it says wide ranges are meant. Errors name the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from aws.native_restore.procedures import restore_database
from bot.drills.spec import split_table
from bot.errors import ConfigError, RequestError
from bot.instance_classes import check_class
from bot.kms_keys import check_key_arn
from bot.policy import check_database_name, check_instance_id
from config.policy_model import is_security_group_id, parse_policy
from tests.support.factories import BOT_NETWORK, drill_data

KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
S3_ARN = "arn:aws:s3:::rdsbot-backups/prod.bak"


@pytest.mark.parametrize(
    ("check", "good", "field"),
    [
        (check_database_name, "Prod", "database_name"),
        (check_instance_id, "restore-sales", "target_instance_id"),
        (check_class, "db.m6i.large", "instance_class"),
        (lambda value: check_key_arn("backup_kms_key", value, "us-east-1", ()), KEY, "backup_kms_key"),
        (lambda value: restore_database("Prod", value), S3_ARN, "backup"),
        (lambda value: restore_database("Prod", S3_ARN, kms_key_arn=value), KEY, "kms_key"),
    ],
)
def test_a_value_with_a_trailing_newline_is_refused_by_the_rule_that_takes_it_without(
    check: Callable[[str], Any], good: str, field: str
) -> None:
    check(good)
    with pytest.raises(RequestError) as refused:
        check(good + "\n")
    assert refused.value.field == field


def test_policy_names_with_a_trailing_newline_are_refused_naming_the_key() -> None:
    base: dict[str, Any] = {"backups": {"default_bucket": "b"}, "network": BOT_NETWORK}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"region": {"default": "us-east-1\n", "allowed": ["us-east-1\n"]}}, "region.default"),
        ({"roles": {"path": "/rdsbot/\n"}}, "roles.path"),
        ({"roles": {"permissions_boundary_arn": "arn:aws:iam::111122223333:policy/b\n"}}, "roles.permissions_boundary"),
        ({"roles": {"permissions_boundary_arn": "arn:aws:iam::111122223333:policy/"}}, "roles.permissions_boundary"),
        ({"network": {"bot_sources": ["sg-0123456789abcdef0\n"]}}, "network.bot_sources"),
        ({"kms": {"allowed_accounts": ["111122223333\n"]}}, "kms.allowed_accounts"),
    ]
    for extra, where in cases:
        with pytest.raises(ConfigError, match=where):
            parse_policy({**base, **extra})
    assert parse_policy({**base, "roles": {"permissions_boundary_arn": "arn:aws:iam::111122223333:policy/ops/b"}})
    assert is_security_group_id("sg-0123456789abcdef0") and not is_security_group_id("sg-0123456789abcdef0\n")


def test_drill_names_and_check_tables_match_whole_values() -> None:
    drill = drill_data(name="nightly\n")
    with pytest.raises(ConfigError, match=r"drills\.0\.name"):
        parse_policy({"backups": {"default_bucket": "b"}, "drills": [drill]})
    assert split_table("dbo.orders") == ("dbo", "orders")
    with pytest.raises(ValueError, match="not a table name"):
        split_table("dbo.orders\n")


# Client networks: a policy minimum prefix, unless wide ranges are meant.


def network(**settings: Any) -> dict[str, Any]:
    return {"backups": {"default_bucket": "b"}, "network": {**BOT_NETWORK, **settings}}


def test_two_halves_of_the_internet_are_refused_naming_the_field_and_the_fix() -> None:
    with pytest.raises(ConfigError) as refused:
        parse_policy(network(allowed_cidrs=["0.0.0.0/1", "128.0.0.0/1"]))
    message = str(refused.value)
    assert "network: allowed_cidrs: 0.0.0.0/1 is wider than /16 (network.min_prefix_v4)" in message
    assert "set network.allow_wide_cidrs: true" in message


@pytest.mark.parametrize(
    ("cidrs", "accepted"),
    [
        (["10.1.0.0/16"], True),
        (["10.0.0.0/15"], False),
        (["10.1.2.3"], True),  # a single address
        (["2001:db8::/48"], True),
        (["2001:db8::/47"], False),
    ],
)
def test_the_default_minimum_is_a_slash_16_for_ipv4_and_a_slash_48_for_ipv6(cidrs: list[str], accepted: bool) -> None:
    if accepted:
        assert parse_policy(network(allowed_cidrs=cidrs)).network.allowed_cidrs == tuple(cidrs)
    else:
        with pytest.raises(
            ConfigError, match=r"allowed_cidrs: .* is wider than /(16|48) \(network\.min_prefix_v[46]\)"
        ):
            parse_policy(network(allowed_cidrs=cidrs))


def test_the_policy_sets_its_own_minimum_and_may_allow_wide_ranges_but_never_the_whole_internet() -> None:
    with pytest.raises(ConfigError, match=r"10\.1\.0\.0/16 is wider than /24 \(network\.min_prefix_v4\)"):
        parse_policy(network(allowed_cidrs=["10.1.0.0/16"], min_prefix_v4=24))
    with pytest.raises(ConfigError, match=r"2001:db8::/56 is wider than /64 \(network\.min_prefix_v6\)"):
        parse_policy(network(allowed_cidrs=["2001:db8::/56"], min_prefix_v6=64))
    wide = parse_policy(network(allowed_cidrs=["0.0.0.0/1"], allow_wide_cidrs=True))
    assert wide.network.allowed_cidrs == ("0.0.0.0/1",)
    with pytest.raises(ConfigError, match="would admit every client on the internet"):
        parse_policy(network(allowed_cidrs=["0.0.0.0/0"], allow_wide_cidrs=True))
    with pytest.raises(ConfigError, match=r"network\.min_prefix_v4"):
        parse_policy(network(min_prefix_v4=0))


def test_where_the_bot_runs_is_held_to_the_same_minimum() -> None:
    with pytest.raises(ConfigError, match=r"bot_sources: 10\.0\.0\.0/8 is wider than /16"):
        parse_policy({"backups": {"default_bucket": "b"}, "network": {"bot_sources": ["10.0.0.0/8"]}})
    groups = parse_policy({"backups": {"default_bucket": "b"}, "network": {"bot_sources": ["sg-0123456789abcdef0"]}})
    assert groups.network.bot_sources == ("sg-0123456789abcdef0",)
