"""Process settings: one pydantic-settings model. Slack's standard variables, RDSBOT_* for the rest.

AWS endpoint, region and credentials are deliberately absent: boto3 reads AWS_ENDPOINT_URL, AWS_DEFAULT_REGION
and the credential chain itself, so a moto server or real AWS is reached with no special code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError
from bot.logs import mask_value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RDSBOT_", extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_SIGNING_SECRET"))
    slack_app_token: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_APP_TOKEN"))

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
    # How often the engine polls RDS and rds_task_status while waiting.
    poll_seconds: float = 15.0
    port: int = 3000
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
