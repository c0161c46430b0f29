"""`--into`: a restore onto an instance that already exists, and what rdsbot learned about it at request time.
Pure: the model only; the rules live in bot/into.py."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class IntoTarget(BaseModel):
    """What an `--into` plan carries besides the usual plan fields (which take the live instance's class, engine
    and version). An `--into` job creates and deletes no instance or network, and deletes no option group: at most
    it gives the instance a new option group when the policy allows (new_option_group)."""

    model_config = ConfigDict(frozen=True)

    replace: bool = False  # --replace: rds_drop_database the database of that name first
    allowed_by: str = ""  # "tag managed-by=rdsbot" or "targets.existing_instances <pattern>": shown on the card
    option_group: str | None = None  # the instance's option group, which carries SQLSERVER_BACKUP_RESTORE
    # Whether the database existed when requested: True, False, or None when the bot could not reach the instance.
    database_existed: bool | None = None
    # Set when option_group lacks SQLSERVER_BACKUP_RESTORE and targets.allow_option_group_change allows a new one:
    # the group rdsbot creates and applies (a copy of option_group's options, named in copied_options, plus
    # SQLSERVER_BACKUP_RESTORE). The only change an --into job makes to the instance; it is never undone by rdsbot.
    new_option_group: str | None = None
    copied_options: tuple[str, ...] = ()
    # Set when a TDE restore's new group replaces a SQLSERVER_BACKUP_RESTORE role that cannot import the certificate
    # (bot/into_tde_role.py): that role, and what IAM said it lacks, for the card and the audit.
    replaced_role_arn: str | None = None
    replaced_role_lacks: tuple[str, ...] = ()
