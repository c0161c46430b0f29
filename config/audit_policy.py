"""The `audit:` section of the policy: where SQL Server Audit and rdsbot's own trail go, the server audit rdsbot
switches on in every instance it restores, and Object Lock on the trail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from pydantic import Field, field_validator, model_validator

from bot import server_audit
from bot.errors import RequestError
from bot.strict_model import StrictModel

_V = TypeVar("_V")


class ServerAuditPolicy(StrictModel):
    """The server audit and its specification rdsbot switches on in every restored instance (bot/server_audit.py)."""

    # Its files land under <prefix>/sqlserver/<instance>/<name>/; RDS refuses names that start with RDS_.
    name: str = "rdsbot_audit"
    # MAXSIZE of each audit file: RDS uploads a file once it is full, and allows 2 to 50 MB.
    max_size_mb: int = 10
    action_groups: tuple[str, ...] = server_audit.DEFAULT_ACTION_GROUPS

    @field_validator("name")
    @classmethod
    def _rds_name(cls, value: str) -> str:
        return _as_value_error(server_audit.check_name, "name", value)

    @field_validator("max_size_mb")
    @classmethod
    def _rds_size(cls, value: int) -> int:
        return _as_value_error(server_audit.check_max_size, "max_size_mb", value)

    @field_validator("action_groups")
    @classmethod
    def _documented_groups(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if not values:
            raise ValueError("name at least one action group; without one the audit records nothing")
        groups = tuple(_as_value_error(server_audit.check_action_group, "action_groups", v) for v in values)
        return tuple(dict.fromkeys(groups))

    def spec(self) -> server_audit.ServerAuditSpec:
        """The checked spec the driver builds its statements from."""
        return server_audit.ServerAuditSpec(
            audit_name=self.name,
            specification_name=f"{self.name}_spec",
            max_size_mb=self.max_size_mb,
            action_groups=self.action_groups,
        )


def _as_value_error(check: Callable[[str, _V], _V], field: str, value: _V) -> _V:
    """A core rule's RequestError as pydantic's ValueError, so the policy error names the key path once."""
    try:
        return check(field, value)
    except RequestError as exc:
        raise ValueError(f"{exc.message}; {exc.hint}" if exc.hint else exc.message) from None


class ObjectLockPolicy(StrictModel):
    """S3 Object Lock retention on every object of rdsbot's own trail (the bucket must have Object Lock enabled)."""

    # GOVERNANCE: users with s3:BypassGovernanceRetention may still delete; COMPLIANCE: nobody, root included.
    mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"
    retention_days: int = Field(ge=1, le=36500)

    @field_validator("mode", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class AuditPolicy(StrictModel):
    bucket: str | None = None
    prefix: str = "rdsbot-audit"
    retention_hours: int = Field(0, ge=0, le=840)
    # SQLSERVER_AUDIT's ENABLE_COMPRESSION: rdsbot sets it, so the completion message can say .zip or .sqlaudit.
    compression: bool = True
    server_audit: ServerAuditPolicy = ServerAuditPolicy()
    # rdsbot's own trail is written with SSE-KMS under this key when set (the bot needs kms:GenerateDataKey on
    # it), else with SSE-S3 (AES256).
    kms_key_id: str | None = None
    # rdsbot's own trail goes to this bucket (default: `bucket`), under <prefix>/rdsbot/.
    trail_bucket: str | None = None
    # Each object of rdsbot's own trail is put with this retention (the bot then needs s3:PutObjectRetention).
    object_lock: ObjectLockPolicy | None = None

    @property
    def shipping_bucket(self) -> str | None:
        """Where rdsbot's own trail is shipped, if anywhere."""
        return self.trail_bucket or self.bucket

    @model_validator(mode="after")
    def _lock_beside_sql_server_audit(self) -> AuditPolicy:
        # SQLSERVER_AUDIT refuses a bucket with Object Lock (RDS guide "Appendix.SQLServer.Options.Audit"), so a
        # locked trail needs a bucket of its own whenever SQL Server Audit is on.
        if self.object_lock and self.bucket and self.shipping_bucket == self.bucket:
            raise ValueError(
                "object_lock: SQL Server Audit cannot write to a bucket with Object Lock; put rdsbot's trail in "
                "a bucket of its own with audit.trail_bucket (created with Object Lock enabled)"
            )
        return self

    @field_validator("prefix")
    @classmethod
    def _strip_slashes(cls, value: str) -> str:
        return value.strip("/")
