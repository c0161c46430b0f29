"""`targets`: which existing instances `/rds-restore ... --into <instance>` may restore onto, and whether rdsbot
may give one a new option group. Kept apart from policy_model.py, which is at its size limit."""

from __future__ import annotations

from pydantic import Field, field_validator

from bot.strict_model import StrictModel


class TargetsPolicy(StrictModel):
    # Shell-style name patterns (fnmatch, whole name, case-sensitive as RDS ids are lower case), e.g. "staging-*":
    # instances rdsbot did not make that --into may restore onto. Instances tagged managed-by=rdsbot need none.
    # The bot logs in with the instance's RDS-managed master secret: its IAM policy must allow reading that
    # secret (the shipped one allows db:rdsbot-* instances only).
    existing_instances: tuple[str, ...] = ()
    # An --into target whose option group lacks SQLSERVER_BACKUP_RESTORE: true lets rdsbot give the instance a new
    # option group (rdsbot-into-<instance>-<major>: a copy of its current group's options plus that option with
    # the restore role), applied with ModifyDBInstance at once; the card says so and the job records the previous
    # group to put back. false (the default): such a target is refused before any card, naming this key.
    allow_option_group_change: bool = False
    # Deprecated: the old name of approvals.replace_approvers, still read (rdsbot doctor warns); giving both with
    # different values is an error.
    replace_approvers: int | None = Field(None, ge=1, le=2)

    @field_validator("existing_instances")
    @classmethod
    def _names_something(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            if not pattern.strip("*?"):
                raise ValueError(f"{pattern!r} would match every instance; name instances or a prefix like staging-*")
            if pattern != pattern.lower():
                raise ValueError(f"{pattern!r}: RDS instance identifiers are lower case")
        return patterns
