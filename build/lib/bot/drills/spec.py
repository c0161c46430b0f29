"""What a drill IS, as the YAML policy states it: schedule, backup source, instance, checks, targets. Pure."""

from __future__ import annotations

import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, field_validator, model_validator

from bot.domain import Edition, StorageType
from bot.strict_model import StrictModel

# A drill name becomes part of audit actors ("drill:<name>") and scheduler job ids: keep it a plain slug.
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
# A SQL Server regular identifier; anything else is refused rather than quoted, so a check can carry no T-SQL.
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_MIGRATION = re.compile(r"^[A-Za-z0-9_]{1,255}$")


def split_table(value: str) -> tuple[str, str]:
    """`orders` or `dbo.orders` -> (schema, table); ValueError unless both parts are plain identifiers."""
    parts = value.split(".")
    if len(parts) == 1:
        parts = ["dbo", *parts]
    if len(parts) != 2 or not all(_IDENTIFIER.match(p) for p in parts):
        raise ValueError(
            f"{value!r} is not a table name rdsbot accepts; write schema.table with letters, digits and underscores"
        )
    return parts[0], parts[1]


class Schedule(StrictModel):
    """A five-field crontab line read in `timezone`."""

    cron: str
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Berlin") from None
        return value

    @model_validator(mode="after")
    def _valid_cron(self) -> Schedule:
        from apscheduler.triggers.cron import CronTrigger  # the parser the scheduler itself will use

        if len(self.cron.split()) != 5:
            raise ValueError(f"cron {self.cron!r} needs five fields: minute hour day-of-month month day-of-week")
        try:
            CronTrigger.from_crontab(self.cron, timezone=self.timezone)
        except ValueError as exc:
            raise ValueError(f"cron {self.cron!r}: {exc}") from None
        return self


class BackupSource(StrictModel):
    """Where the drill finds its backup: the newest under `prefix` (a striped set counts as one)."""

    bucket: str | None = None  # None: the policy's default bucket
    prefix: str = ""
    # Refuse a backup older than this: a drill that restores last month's file proves nothing about last night.
    max_age_days: float | None = Field(None, gt=0)


class DrillEngine(StrictModel):
    """Instance and engine options; unset ones take the policy's engine defaults."""

    edition: Edition | None = None
    storage_type: StorageType | None = None
    allocated_storage_gb: int | None = Field(None, ge=20, le=16384)
    multi_az: bool = False
    cores: int | None = Field(None, ge=1)
    threads_per_core: int | None = Field(None, ge=1, le=2)
    region: str | None = None

    @field_validator("edition", mode="before")
    @classmethod
    def _short_edition(cls, value: object) -> object:
        try:
            return Edition.parse(value) if isinstance(value, str) else value
        except ValueError:
            raise ValueError(f"{value!r} is not a SQL Server edition; use ex, web, se or ee") from None


def _valid_table(value: str) -> str:
    split_table(value)  # raises with the reason when the name is not schema.table of plain identifiers
    return value


# One validated type for every check that names a table.
TableName = Annotated[str, AfterValidator(_valid_table)]


class TableExists(StrictModel):
    kind: Literal["table_exists"]
    table: TableName

    @property
    def label(self) -> str:
        return f"table {self.table} exists"


class RowCountAtLeast(StrictModel):
    kind: Literal["row_count"]
    table: TableName
    at_least: int = Field(ge=0)

    @property
    def label(self) -> str:
        return f"{self.table} has at least {self.at_least} rows"


class DbccCheckdb(StrictModel):
    kind: Literal["dbcc_checkdb"]

    @property
    def label(self) -> str:
        return "DBCC CHECKDB is clean"


class DjangoMigrations(StrictModel):
    """The restored django_migrations table holds, for each app, the migration the application ships last."""

    kind: Literal["django_migrations"]
    apps: dict[str, str]  # app label -> its latest migration name, e.g. orders: 0031_add_invoice_number

    @field_validator("apps")
    @classmethod
    def _apps(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("list at least one app and its latest migration")
        for app, migration in value.items():
            if not _IDENTIFIER.match(app) or not _MIGRATION.match(migration):
                raise ValueError(f"{app}: {migration} is not a Django app label and migration name")
        return value

    @property
    def label(self) -> str:
        return f"django_migrations at the latest migration of {', '.join(sorted(self.apps))}"


DrillCheck = Annotated[TableExists | RowCountAtLeast | DbccCheckdb | DjangoMigrations, Field(discriminator="kind")]


class DrillSpec(StrictModel):
    """One scheduled restore drill."""

    name: str
    schedule: Schedule
    source: BackupSource
    instance_class: str
    engine: DrillEngine = DrillEngine()
    database_name: str | None = None  # None: derived from the backup's file name
    checks: tuple[DrillCheck, ...] = ()
    rto_minutes: float = Field(gt=0)
    # Keep the restored instance this long after validation (for a human to look), then delete it.
    keep_minutes: float = Field(0, ge=0, le=7 * 24 * 60)
    report_channel: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r}: use 1-41 lower-case letters, digits and hyphens, starting with a letter")
        return value

    @field_validator("instance_class")
    @classmethod
    def _class(cls, value: str) -> str:
        from bot import instance_classes
        from bot.errors import RequestError

        try:
            instance_classes.check_class(value)
        except RequestError as exc:
            raise ValueError(str(exc).removeprefix("instance_class: ")) from None
        return value

    @field_validator("database_name")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        if value is not None and not _IDENTIFIER.match(value):
            raise ValueError(f"{value!r} is not a plain SQL Server identifier")
        return value
