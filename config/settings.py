"""Process settings: one pydantic-settings model. Slack's standard variables, RDSBOT_* for the rest.

AWS endpoint, region and credentials are deliberately absent: boto3 reads AWS_ENDPOINT_URL, AWS_DEFAULT_REGION
and the credential chain itself, so a moto server or real AWS is reached with no special code.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError
from bot.logs import mask_value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RDSBOT_", extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_SIGNING_SECRET"))
    slack_app_token: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_APP_TOKEN"))

    # None means the shipped example policy, which only the sandbox commands accept (see require_policy_file).
    config: Path | None = Field(None, description="Path of the YAML policy; None: the built-in example")
    database_url: str = "sqlite:///rdsbot.db"
    slack_api_url: str = "https://slack.com/api/"
    # Enterprise Grid, org-wide install: requests from any workspace of this org (E...) are served. Unset: only
    # the workspace of the bot token (auth.test's team_id).
    slack_enterprise_id: str | None = None
    sqlserver_driver: Literal["tds", "sandbox"] = "tds"
    # TLS to SQL Server (tds driver): on unless explicitly off; on needs the RDS CA bundle, checked at start.
    sqlserver_tls: Literal["on", "off"] = "on"
    sqlserver_ca_file: Path | None = None
    # Where the sandbox SQL Server sees the bot connect from (a security group id or an address/CIDR), checked
    # against the instance's security groups; None: the policy's first network.bot_sources entry.
    sandbox_bot_source: str | None = None
    # How long the sandbox SQL Server takes for a full restore, in seconds: fast for demos and tests.
    sandbox_restore_seconds: float = 3.0
    # Where the sandbox SQL Server keeps its state, so a restarted bot sees the same tasks; None: in memory.
    sandbox_state_path: Path | None = None
    # Sandbox only, for the SIGKILL test: the engine stops for good as a job's completion reaches the notifiers,
    # after the finished status is saved (aws/sandbox/finish_hold.py). Ignored with the tds driver.
    sandbox_hold_finish: bool = False
    # Sandbox only, likewise: a decision's announcement stops for good after Approve or Deny is saved
    # (aws/sandbox/decision_hold.py). Ignored with the tds driver.
    sandbox_hold_decision: bool = False
    # How often the engine polls RDS and rds_task_status while waiting.
    poll_seconds: float = 15.0
    port: int = 3000
    # How long `serve` and `worker` take at most to stop on SIGTERM/SIGINT: the step in flight finishes, what can be
    # flushed is, leader locks are let go. Under Docker's default 10 s stop timeout, so SIGKILL never comes first.
    shutdown_seconds: float = Field(8.0, gt=0, le=60)
    # Set by the container image: a SQLite file is kept only on a mounted volume (it would die with the container).
    sqlite_needs_volume: bool = False
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (and overrides), or ConfigError naming the bad variable."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"invalid settings: {problems}") from None
    for secret in (settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token):
        mask_value(secret.get_secret_value() if secret else None)  # masked by value in every log line
    return settings


def require_policy_file(settings: Settings, command: str) -> Path:
    """The policy path a production command runs on; never the shipped example, which schedules a drill of its own."""
    if settings.config is None:
        raise ConfigError(
            f"RDSBOT_CONFIG is not set: `rdsbot {command}` needs your policy file and will not fall back to the "
            "shipped example (it is for the sandbox: rdsbot demo, rdsbot shell); "
            "hint: write one from config/rdsbot.example.yaml and set RDSBOT_CONFIG=/path/to/policy.yaml"
        )
    return settings.config


def require_durable_database(settings: Settings, is_mount: Callable[[str], bool] = os.path.ismount) -> None:
    """In the image (RDSBOT_SQLITE_NEEDS_VOLUME=1), a SQLite job store must sit on a mounted volume: a file in the
    container's own layer is lost, with every job, approval and audit event, when the container is replaced."""
    if not settings.sqlite_needs_volume or not settings.database_url.startswith("sqlite"):
        return
    path = settings.database_url.removeprefix("sqlite:///") if settings.database_url.startswith("sqlite:///") else ""
    directory = os.path.dirname(os.path.abspath(path)) if path and path != ":memory:" else ""
    if directory and is_mount(directory):
        return
    raise ConfigError(
        f"RDSBOT_DATABASE_URL={settings.database_url} keeps the job store inside the container, lost when it is "
        "replaced; hint: set RDSBOT_DATABASE_URL=postgresql+psycopg://user@host/db (recommended), or mount a volume "
        "(docker run -v rdsbot-data:/var/lib/rdsbot ...) and set RDSBOT_DATABASE_URL=sqlite:////var/lib/rdsbot/rdsbot.db"
    )


def endpoint_variables(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """AWS_ENDPOINT_URL and its per-service forms (AWS_ENDPOINT_URL_RDS, ...), as boto3 reads them."""
    env = os.environ if environ is None else environ
    return {name: value for name, value in env.items() if name.startswith("AWS_ENDPOINT_URL") and value}


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_loopback_aws_for_sandbox(settings: Settings, environ: Mapping[str, str] | None = None) -> None:
    """The sandbox SQL driver fakes the restore: against real AWS it would create a real instance and restore nothing
    into it. Refused unless every AWS endpoint boto3 will use is a loopback address (a moto server)."""
    if settings.sqlserver_driver != "sandbox":
        return
    endpoints = endpoint_variables(environ)
    if "AWS_ENDPOINT_URL" not in endpoints:
        raise ConfigError(
            "RDSBOT_SQLSERVER_DRIVER=sandbox needs AWS_ENDPOINT_URL on a loopback address (a moto server): without "
            "it boto3 reaches real AWS, and the sandbox driver would fake the restore on a real instance; "
            "hint: unset RDSBOT_SQLSERVER_DRIVER (tds) for real AWS, or use rdsbot demo / rdsbot shell"
        )
    remote = sorted(name for name, url in endpoints.items() if not is_loopback_url(url))
    if remote:
        raise ConfigError(
            f"RDSBOT_SQLSERVER_DRIVER=sandbox is refused: {', '.join(f'{n}={endpoints[n]}' for n in remote)} is "
            "not a loopback address, and the sandbox driver would fake the restore on a real instance; "
            "hint: point AWS_ENDPOINT_URL at a moto server on 127.0.0.1, or unset RDSBOT_SQLSERVER_DRIVER (tds)"
        )
