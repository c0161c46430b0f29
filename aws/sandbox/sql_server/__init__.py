"""The emulated RDS SQL Server: the msdb.dbo.rds_* procedures and the drill check queries, answered like RDS."""

from aws.sandbox.sql_server.server import (
    STATUS_COLUMNS,
    SandboxCall,
    SandboxConnection,
    SandboxCursor,
    SandboxSqlError,
    SandboxSqlServer,
    embedded_sql_server,
)

__all__ = [
    "STATUS_COLUMNS",
    "SandboxCall",
    "SandboxConnection",
    "SandboxCursor",
    "SandboxSqlError",
    "SandboxSqlServer",
    "embedded_sql_server",
]
