"""A restore chain: a FULL backup, at most one DIFFERENTIAL and transaction logs, each restored WITH NORECOVERY,
the last log optionally stopped at a point in time, then the database opened with rds_finish_restore (AWS guide
"SQLServer.Procedural.Importing.Native.Using": rds_restore_database @type/@with_norecovery, rds_restore_log
@with_norecovery/@stopat, rds_finish_restore). Pure: the steps are planned here, sent by bot/chain_stages.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from bot.errors import RequestError

# The card lists every step and each log is one task of its own; past this, restore a newer full or differential.
MAX_LOG_STEPS = 30
# SQL Server's own datetime literal, as the AWS guide writes @stopat ('2019-12-01 03:57:09').
STOPAT_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class ListedObject:
    """One object under a --chain prefix, as ListObjectsV2 reports it (bot/chain_discovery.py picks the chain)."""

    key: str
    modified: datetime


class StepKind(StrEnum):
    FULL = "full"
    DIFFERENTIAL = "differential"
    LOG = "log"
    FINISH = "finish"


# rds_task_status's task_type of each step, all sent WITH NORECOVERY (AWS guide, "task_type" of rds_task_status).
_TASK_TYPES = {
    StepKind.FULL: "RESTORE_DB_NORECOVERY",
    StepKind.DIFFERENTIAL: "RESTORE_DB_DIFFERENTIAL_NORECOVERY",
    StepKind.LOG: "RESTORE_DB_LOG_NORECOVERY",
    StepKind.FINISH: "FINISH_RESTORE",
}


class ChainSource(BaseModel):
    """One backup of the chain: a single key, or (a differential only) a striped `prefix*` set."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str
    multi_file: bool = False

    @property
    def s3_arn(self) -> str:
        return f"arn:aws:s3:::{self.bucket}/{self.key}{'*' if self.multi_file else ''}"


class RestoreChain(BaseModel):
    """What follows the full backup. Logs are single keys once the preflight has expanded a `prefix*`."""

    model_config = ConfigDict(frozen=True)

    diff: ChainSource | None = None
    logs: tuple[ChainSource, ...] = ()
    stop_at: str | None = None  # STOPAT_FORMAT, UTC: sent as @stopat with the last log


class ChainStep(BaseModel):
    """One statement of the chain: what it restores, and how rds_task_status will name its task."""

    model_config = ConfigDict(frozen=True)

    kind: StepKind
    s3_arn: str | None = None  # None for rds_finish_restore
    stop_at: str | None = None

    @property
    def task_type(self) -> str:
        return _TASK_TYPES[self.kind]

    def label(self) -> str:
        """`log s3://bucket/log2.trn, stop at 2026-11-26 03:57:09 UTC`; `rds_finish_restore` for the last step."""
        if self.kind == StepKind.FINISH:
            return "rds_finish_restore"
        where = (self.s3_arn or "").replace("arn:aws:s3:::", "s3://")
        stop = f", stop at {self.stop_at} UTC" if self.stop_at else ""
        return f"{self.kind} {where} NORECOVERY{stop}"


def chain_steps(full_s3_arn: str, chain: RestoreChain) -> tuple[ChainStep, ...]:
    """Every statement, in the order RDS must see them: FULL, DIFFERENTIAL, logs (the last with @stopat), finish."""
    steps = [ChainStep(kind=StepKind.FULL, s3_arn=full_s3_arn)]
    if chain.diff is not None:
        steps.append(ChainStep(kind=StepKind.DIFFERENTIAL, s3_arn=chain.diff.s3_arn))
    for number, log in enumerate(chain.logs, start=1):
        last = number == len(chain.logs)
        steps.append(ChainStep(kind=StepKind.LOG, s3_arn=log.s3_arn, stop_at=chain.stop_at if last else None))
    steps.append(ChainStep(kind=StepKind.FINISH))
    return tuple(steps)


def parse_stop_at(text: str) -> str:
    """An ISO-8601 time as @stopat: with an offset, converted to UTC; without one, taken as UTC (the time zone of
    an instance created without a Timezone, as rdsbot creates them)."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise RequestError(
            "stop_at", f"{text!r} is not an ISO-8601 time", "write e.g. --stop-at 2026-11-26T03:57:09Z"
        ) from None
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.strftime(STOPAT_FORMAT)


def check_stop_at(log_count: int, stop_at: str | None) -> None:
    """A stop time needs a log to stop in."""
    if stop_at is not None and log_count == 0:
        raise RequestError(
            "stop_at",
            "--stop-at stops a transaction log restore, and no --log was given",
            "add --log KEY.trn (the log that holds the moment), or leave out --stop-at",
        )


def check_log_count(count: int) -> None:
    if count > MAX_LOG_STEPS:
        raise RequestError(
            "logs",
            f"the chain has {count} transaction logs; rdsbot restores at most {MAX_LOG_STEPS} in one request",
            "restore a newer full or differential backup (--diff) and only the logs after it",
        )
