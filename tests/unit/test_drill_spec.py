"""Drill specs are validated at start like the rest of the policy, each problem named by its key path."""

from __future__ import annotations

from typing import Any

import pytest

from bot.drills.report import sparkline
from bot.errors import ConfigError
from config.policy_model import EXAMPLE_POLICY, load_policy, parse_policy
from tests.support.factories import drill_data


def policy_with(**drill: Any) -> dict[str, Any]:
    return {"backups": {"default_bucket": "b"}, "drills": [drill_data(**drill)]}


def test_the_shipped_example_has_a_drill_with_every_kind_of_check():
    drill = load_policy(EXAMPLE_POLICY).drills[0]
    assert {check.kind for check in drill.checks} == {"table_exists", "row_count", "django_migrations", "dbcc_checkdb"}


@pytest.mark.parametrize(
    ("drill", "where", "why"),
    [
        ({"schedule": {"cron": "0 3 * *"}}, "drills.0.schedule", "five fields"),
        ({"schedule": {"cron": "61 3 * * *"}}, "drills.0.schedule", "cron '61 3 * * *'"),
        ({"schedule": {"cron": "0 3 * * *", "timezone": "Mars/Olympus"}}, "drills.0.schedule.timezone", "IANA"),
        ({"name": "Nightly Drill"}, "drills.0.name", "lower-case"),
        ({"instance_class": "db.m1.small"}, "drills.0.instance_class", "previous-generation"),
        (
            {"checks": [{"kind": "row_count", "table": "orders; DROP TABLE x", "at_least": 1}]},
            "drills.0.checks.0",
            "not a table",
        ),
        ({"checks": [{"kind": "table_exists", "table": "[dbo].[orders]"}]}, "drills.0.checks.0", "not a table"),
        ({"checks": [{"kind": "django_migrations", "apps": {}}]}, "drills.0.checks.0", "at least one app"),
        ({"checks": [{"kind": "sql", "query": "select 1"}]}, "drills.0.checks.0", "does not match any"),
        ({"rto_minutes": 0}, "drills.0.rto_minutes", "greater than 0"),
        ({"source": {"prefix": "p", "bucket": "elsewhere"}}, "drills.nightly.source.bucket", "not an allowed"),
        ({"database_name": "x]; DROP DATABASE master; --"}, "drills.0.database_name", "plain SQL Server identifier"),
        ({"surprise": 1}, "drills.0.surprise", "Extra inputs"),
    ],
)
def test_a_bad_drill_stops_the_bot_at_start_naming_the_key(drill: dict[str, Any], where: str, why: str):
    with pytest.raises(ConfigError) as caught:
        parse_policy(policy_with(**drill))
    assert where in str(caught.value) and why in str(caught.value)


def test_two_drills_may_not_share_a_name():
    data = policy_with()
    data["drills"].append(data["drills"][0])
    with pytest.raises(ConfigError, match="two drills are named nightly"):
        parse_policy(data)


def test_the_sparkline_spans_the_fastest_to_the_slowest_restore():
    assert sparkline([60.0, 120.0, 90.0, 60.0]) == "▁█▅▁"
    assert sparkline([5.0, 5.0]) == "▁▁" and sparkline([]) == ""
