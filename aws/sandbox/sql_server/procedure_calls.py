"""Reading what a client sends: `exec msdb.dbo.rds_x @name=%s, ...` with bound values, checked against the
signature of the emulated procedure, refused as SQL Server would refuse it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from aws.native_restore.procedures import (
    BACKUP_DATABASE,
    CANCEL_TASK,
    DROP_DATABASE,
    FINISH_RESTORE,
    RESTORE_DATABASE,
    RESTORE_LOG,
    TASK_STATUS,
)
from aws.native_restore.tde import RESTORE_TDE_CERTIFICATE
from aws.sandbox.sql_server.results import SandboxSqlError, SqlParam

# name -> required, in the order the AWS guide lists them ("SQLServer.Procedural.Importing.Native.Using", Usage of
# each procedure): exactly these, so a documented parameter is accepted and any other is refused as SQL Server does.
_TUNING = {"block_size": False, "max_transfer_size": False, "buffer_count": False}
_SIGNATURES: dict[str, dict[str, bool]] = {
    RESTORE_DATABASE: {
        "restore_db_name": True,
        "s3_arn_to_restore_from": True,
        "with_norecovery": False,
        "keep_cdc": False,
        "data_file_volume": False,
        "log_file_volume": False,
        "kms_master_key_arn": False,
        **_TUNING,
        "type": False,
    },
    RESTORE_LOG: {
        "restore_db_name": True,
        "s3_arn_to_restore_from": True,
        "kms_master_key_arn": False,
        "with_norecovery": False,
        "keep_cdc": False,
        "stopat": False,
        **_TUNING,
    },
    FINISH_RESTORE: {"db_name": True},
    DROP_DATABASE: {"db_name": True},
    BACKUP_DATABASE: {
        "source_db_name": True,
        "s3_arn_to_backup_to": True,
        "kms_master_key_arn": False,
        "overwrite_s3_backup_file": False,
        **_TUNING,
        "type": False,
        "number_of_files": False,
        "enable_bucket_default_encryption": False,
    },
    TASK_STATUS: {"db_name": False, "task_id": False},
    CANCEL_TASK: {"task_id": True},
    # AWS guide "TDE.BackupRestoreRDS", "Restoring a TDE certificate": all four are required.
    RESTORE_TDE_CERTIFICATE: {
        "certificate_name": True,
        "certificate_file_s3_arn": True,
        "private_key_file_s3_arn": True,
        "kms_password_key_arn": True,
    },
}
_FLAGS = ("with_norecovery", "keep_cdc", "overwrite_s3_backup_file", "enable_bucket_default_encryption")
_BLOCK_SIZES = (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)
_VOLUMES = ("D:", "H:", "I:", "J:")
MAX_FILES = 10

_EXEC = re.compile(r"^\s*exec(?:ute)?\s+(?P<procedure>[\w.\[\]]+)(?P<args>(?:\s.*)?)$", re.I | re.S)
_BOUND_ARG = re.compile(r"@(?P<name>\w+)\s*=\s*%s")
_LITERAL_ARG = re.compile(r"^@(?P<name>\w+)\s*=")


def parse_call(sql: str, params: Sequence[SqlParam]) -> tuple[str, dict[str, SqlParam]]:
    """The procedure an exec statement names and its bound parameters by name."""
    match = _EXEC.match(sql)
    if match is None:
        raise SandboxSqlError(
            102, f"Incorrect syntax near '{sql.strip()[:40]}'; the sandbox runs only exec msdb.dbo.rds_*."
        )
    procedure = match["procedure"].replace("[", "").replace("]", "").lower()
    args = match["args"].strip().rstrip(";").strip()
    pieces = [piece.strip() for piece in args.split(",")] if args else []
    if sql.count("%s") != len(params):
        raise SandboxSqlError(
            0, f"the statement has {sql.count('%s')} placeholders but {len(params)} parameters were bound"
        )
    bound: dict[str, SqlParam] = {}
    values = iter(params)
    order = list(_SIGNATURES.get(procedure, {}))
    named = False
    for position, piece in enumerate(pieces):
        if piece == "%s" and not named:
            # Positional, as SQL Server allows before the first named one: the next parameter in order.
            if position >= len(order):
                raise SandboxSqlError(
                    8144, f"Procedure or function {short_name(procedure)} has too many arguments specified."
                )
            bound[order[position]] = next(values)
            continue
        named = True
        arg = _BOUND_ARG.fullmatch(piece)
        if arg is None:
            literal = _LITERAL_ARG.match(piece)
            what = f"@{literal['name']}" if literal else repr(piece)
            raise SandboxSqlError(0, f"{what} must be bound as a parameter (@name=%s), not written into the statement")
        name = arg["name"].lower()
        if name in bound:
            raise SandboxSqlError(8143, f"Parameter '@{name}' was supplied multiple times.")
        bound[name] = next(values)
    return procedure, bound


def check_signature(procedure: str, bound: dict[str, SqlParam]) -> None:
    """Refuse an unknown procedure, an unknown or missing parameter, as SQL Server does before running anything."""
    signature = _SIGNATURES.get(procedure)
    if signature is None:
        raise SandboxSqlError(2812, f"Could not find stored procedure '{procedure}'.")
    for name in bound:
        if name not in signature:
            raise SandboxSqlError(8145, f"@{name} is not a parameter for procedure {short_name(procedure)}.")
    for name, required in signature.items():
        if required and bound.get(name) is None:
            raise SandboxSqlError(
                201,
                f"Procedure or function '{short_name(procedure)}' expects parameter '@{name}', which was not supplied.",
            )
    check_values(bound)


def check_values(bound: dict[str, SqlParam]) -> None:
    """The documented values of each parameter; RDS's own wording for a bad one is not published."""
    for name in _FLAGS:
        if bound.get(name) not in (None, 0, 1):
            raise SandboxSqlError(50000, f"@{name} must be 0 or 1.")
    if bound.get("type") is not None and str(bound["type"]).upper() not in ("FULL", "DIFFERENTIAL"):
        raise SandboxSqlError(50000, f"Invalid @type '{bound['type']}'; use FULL or DIFFERENTIAL.")
    if bound.get("block_size") is not None and bound_int(bound, "block_size") not in _BLOCK_SIZES:
        raise SandboxSqlError(50000, f"@block_size must be one of {', '.join(map(str, _BLOCK_SIZES))}.")
    if bound.get("max_transfer_size") is not None:
        size = bound_int(bound, "max_transfer_size")
        if size <= 0 or size % 65536 or size > 4194304:
            raise SandboxSqlError(50000, "@max_transfer_size must be a multiple of 65536 bytes up to 4194304.")
    if bound.get("buffer_count") is not None and bound_int(bound, "buffer_count") < 1:
        raise SandboxSqlError(50000, "@buffer_count must be a positive number of buffers.")
    for name in ("data_file_volume", "log_file_volume"):
        if bound.get(name) is not None and str(bound[name]).upper() not in _VOLUMES:
            raise SandboxSqlError(50000, f"@{name} must be one of {', '.join(_VOLUMES)}.")
    if bound.get("number_of_files") is not None and not 1 <= bound_int(bound, "number_of_files") <= MAX_FILES:
        raise SandboxSqlError(50000, f"@number_of_files must be from 1 to {MAX_FILES}.")
    if bound.get("stopat") is not None:
        try:
            datetime.fromisoformat(str(bound["stopat"]))
        except ValueError:
            raise SandboxSqlError(
                241, "Conversion failed when converting date and/or time from character string."
            ) from None


def short_name(procedure: str) -> str:
    """rds_restore_database for msdb.dbo.rds_restore_database, as SQL Server names it in messages."""
    return procedure.rsplit(".", 1)[-1]


def bound_text(bound: dict[str, SqlParam], name: str) -> str:
    """A parameter that must be a non-empty string."""
    value = bound.get(name)
    if not isinstance(value, str) or not value:
        raise SandboxSqlError(50000, f"@{name} must be a non-empty string.")
    return value


def bound_int(bound: dict[str, SqlParam], name: str) -> int:
    """An int parameter; a string of digits converts, as SQL Server converts it implicitly."""
    value = bound.get(name)
    try:
        return int(value)  # type: ignore[arg-type]  # a str of digits converts implicitly on SQL Server too
    except (TypeError, ValueError):
        raise SandboxSqlError(8114, f"Error converting data type nvarchar to int for @{name}.") from None
