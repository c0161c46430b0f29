"""Defaults that fail closed: production commands need a policy file of their own, and the sandbox SQL driver (which
fakes the restore) runs only against AWS endpoints on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from config.settings import (
    Settings,
    require_durable_database,
    require_loopback_aws_for_sandbox,
    require_policy_file,
)


def test_a_production_command_without_rdsbot_config_is_refused_naming_the_variable():
    with pytest.raises(ConfigError) as refused:
        require_policy_file(Settings(), "serve")
    assert "RDSBOT_CONFIG" in str(refused.value) and "rdsbot serve" in str(refused.value)
    assert "hint:" in str(refused.value)
    assert require_policy_file(Settings(config=Path("/etc/rdsbot/policy.yaml")), "worker") == Path(
        "/etc/rdsbot/policy.yaml"
    )


@pytest.mark.parametrize(
    "endpoint",
    ["http://127.0.0.1:5000", "http://localhost:5000", "http://[::1]:5000", "http://127.9.9.9:5000"],
)
def test_the_sandbox_driver_runs_against_a_loopback_endpoint(endpoint: str):
    require_loopback_aws_for_sandbox(Settings(sqlserver_driver="sandbox"), {"AWS_ENDPOINT_URL": endpoint})


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"AWS_ENDPOINT_URL": "https://rds.us-east-1.amazonaws.com"},
        {"AWS_ENDPOINT_URL": "http://10.0.0.5:5000"},
        {"AWS_ENDPOINT_URL": "http://localhost.example.com:5000"},
        # boto3 honours per-service endpoints: a real RDS behind a loopback default is still real AWS.
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_ENDPOINT_URL_RDS": "https://rds.amazonaws.com"},
    ],
)
def test_the_sandbox_driver_is_refused_unless_every_aws_endpoint_is_loopback(environ: dict[str, str]):
    with pytest.raises(ConfigError) as refused:
        require_loopback_aws_for_sandbox(Settings(sqlserver_driver="sandbox"), environ)
    assert "RDSBOT_SQLSERVER_DRIVER=sandbox" in str(refused.value) and "hint:" in str(refused.value)


def test_the_real_driver_needs_no_endpoint():
    require_loopback_aws_for_sandbox(Settings(sqlserver_driver="tds"), {})


def test_in_the_image_a_sqlite_store_is_refused_unless_on_a_mounted_volume():
    on_volume = Settings(sqlite_needs_volume=True, database_url="sqlite:////var/lib/rdsbot/rdsbot.db")
    require_durable_database(on_volume, is_mount=lambda path: path == "/var/lib/rdsbot")
    for url in ("sqlite:///rdsbot.db", "sqlite:////home/rdsbot/rdsbot.db", "sqlite://"):
        with pytest.raises(ConfigError) as refused:
            require_durable_database(Settings(sqlite_needs_volume=True, database_url=url), is_mount=lambda _: False)
        assert "RDSBOT_DATABASE_URL" in str(refused.value) and "postgresql" in str(refused.value)
    postgres = Settings(sqlite_needs_volume=True, database_url="postgresql+psycopg://rdsbot@db/rdsbot")
    require_durable_database(postgres, is_mount=lambda _: False)
    require_durable_database(Settings(database_url="sqlite:///rdsbot.db"), is_mount=lambda _: False)  # not the image
