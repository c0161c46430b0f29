from pathlib import Path

import pytest

from bot.errors import ConfigError
from config.policy_model import EXAMPLE_POLICY, load_policy, parse_policy
from config.settings import load_settings
from tests.support.factories import drill_data


def test_the_shipped_example_policy_is_valid():
    policy = load_policy(EXAMPLE_POLICY)
    assert policy.region.default in policy.region.allowed
    assert policy.network.allowed_cidrs == () and policy.network.allowed_source_security_groups == ()
    # The embedded sandbox's bot runs "from" the example's bot source; real deployments replace it.
    assert policy.network.bot_sources == ("10.0.0.10/32",)


def test_bot_sources_take_security_group_ids_and_networks():
    network = parse_policy(
        {"backups": {"default_bucket": "b"}, "network": {"bot_sources": ["sg-0123456789abcdef0", "10.0.4.0/24"]}}
    ).network
    assert network.bot_sources == ("sg-0123456789abcdef0", "10.0.4.0/24")


@pytest.mark.parametrize(
    ("data", "where", "why"),
    [
        ({"backups": {"default_bucket": "b"}, "region": {"default": "us-east-9x"}}, "region.default", "not an AWS"),
        (
            {"backups": {"default_bucket": "b"}, "region": {"default": "us-west-2", "allowed": ["us-east-1"]}},
            "region",
            "not in allowed",
        ),
        (
            {"backups": {"default_bucket": "b"}, "network": {"allowed_cidrs": ["0.0.0.0/0"]}},
            "network.allowed_cidrs",
            "every client",
        ),
        (
            {"backups": {"default_bucket": "b"}, "network": {"bot_sources": ["::/0"]}},
            "network.bot_sources",
            "every client",
        ),
        (
            {"backups": {"default_bucket": "b"}, "network": {"bot_sources": ["sg-prod-bot"]}},
            "network.bot_sources",
            "not a security group id",
        ),
        (
            {"backups": {"default_bucket": "b"}, "network": {"bot_sources": ["bot.example.com"]}},
            "network.bot_sources",
            "not an address or network",
        ),
        ({"backups": {"default_bucket": "b"}, "audit": {"retention_hours": 900}}, "audit.retention_hours", "840"),
        ({"backups": {"default_bucket": "b"}, "engine": {"major_version": "2019"}}, "engine.major_version", "15.00"),
        ({"backups": {"default_bucket": "b", "colour": "red"}}, "backups.colour", "Extra inputs"),
        ({}, "backups", "Field required"),
    ],
)
def test_invalid_policy_names_the_key_path_and_the_reason(data, where, why):
    with pytest.raises(ConfigError) as caught:
        parse_policy(data, "test.yaml")
    assert where in str(caught.value) and why in str(caught.value)


def test_unreadable_and_malformed_files_fail_clearly(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read policy"):
        load_policy(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("region: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_policy(bad)


def test_settings_read_slack_standard_and_rdsbot_variables(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret-token")
    monkeypatch.setenv("RDSBOT_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/test")
    monkeypatch.setenv("RDSBOT_SQLSERVER_DRIVER", "sandbox")
    settings = load_settings()
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-secret-token"
    assert "xoxb-secret-token" not in repr(settings)
    assert settings.database_url.startswith("postgresql") and settings.sqlserver_driver == "sandbox"


def test_bad_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv("RDSBOT_SQLSERVER_DRIVER", "odbc")
    with pytest.raises(ConfigError, match="sqlserver_driver"):
        load_settings()


def test_a_drill_restores_in_its_own_region_or_else_the_default():
    policy = parse_policy(
        {
            "backups": {"default_bucket": "b"},
            "region": {"default": "eu-west-1", "allowed": ["eu-west-1", "us-east-1"]},
            "drills": [drill_data(name="home"), drill_data(name="away", engine={"region": "us-east-1"})],
        }
    )
    assert [policy.drill_region(d) for d in policy.drills] == ["eu-west-1", "us-east-1"]
    assert (policy.region.or_default(None), policy.region.or_default("us-east-1")) == ("eu-west-1", "us-east-1")
