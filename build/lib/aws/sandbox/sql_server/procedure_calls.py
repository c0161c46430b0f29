"""Reading what a client sends: `exec msdb.dbo.rds_x @name=%s, ...` with bound values, checked against the
signature of the emulated procedure, refused as SQL Server would refuse it."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws.native_restore.procedures import CANCEL_TASK, RESTORE_DATABASE, TASK_STATUS
from aws.sandbox.sql_server.results import SandboxSqlError, SqlParam

# name -> required; what each emulated procedure accepts.
_SIGNATURES: dict[str, dict[str, bool]] = {
    RESTORE_DATABASE: {
        "restore_db_name": True,
        "s3_arn_to_restore_from": True,
        "type": False,
        "with_norecovery": False,
        "kms_master_key_arn": False,
    },
    TASK_STATUS: {"task_id": False, "db_name": False},
    CANCEL_TASK: {"task_id": True},
}

_EXEC = re.compile(r"^\s*exec(?:ute)?\s+(?P<procedure>[\w.\[\]]+)(?P<args>(?:\s.*)?)$", re.I | re.S)
_BOUND_ARG = re.compile(r"^@(?P<name>\w+)\s*=\s*%s$")
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
    for piece in pieces:
        arg = _BOUND_ARG.match(piece)
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
    if "with_norecovery" in bound and bound["with_norecovery"] not in (None, 0, 1):
        raise SandboxSqlError(50000, "@with_norecovery must be 0 or 1.")


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
