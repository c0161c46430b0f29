"""The emulated RDS SQL Server: the msdb.dbo.rds_* procedures and the drill check queries, answered like RDS.

server: the procedure dispatcher; connection: DB-API-like connections to it; procedure_calls: reading what a client
sends; task_lifecycle and task_status: restore tasks over time and as rds_task_status shows them; drill_checks:
answers to drill validation queries; state_file: the state several processes share; reachability: whether the
instance's security groups let the bot's connection in; role_policies: what the option group's IAM role may do.
"""

from aws.sandbox.sql_server.connection import SandboxConnection, SandboxCursor
from aws.sandbox.sql_server.reachability import SecurityGroupReachability
from aws.sandbox.sql_server.results import SandboxSqlError
from aws.sandbox.sql_server.server import SandboxSqlServer, embedded_sql_server
from aws.sandbox.sql_server.state_file import SandboxCall
from aws.sandbox.sql_server.task_status import STATUS_COLUMNS

__all__ = [
    "STATUS_COLUMNS",
    "SandboxCall",
    "SandboxConnection",
    "SandboxCursor",
    "SandboxSqlError",
    "SandboxSqlServer",
    "SecurityGroupReachability",
    "embedded_sql_server",
]
