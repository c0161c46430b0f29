"""PostgreSQL advisory lock keys, one set per schema.

Advisory locks are database-wide, but rdsbot's tables live in a schema: two deployments sharing a database in
separate schemas (staging next to production, or every PostgreSQL test here) must not elect one engine leader
between them, nor wait on each other's migrations.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

# The lock key for `:key` in the schema the connection works in (the first on its search path). The server works it
# out in the statement that takes the lock, so scoping costs no extra round trip. hashtextextended: PostgreSQL 11+.
SCOPED_KEY = "hashtextextended(CAST(:key AS text) || '@' || current_schema(), 0)"


def try_lock_for_session(connection: Connection, key: int) -> bool:
    """Take the schema's lock `key` if free; it is held until the session ends or it is unlocked."""
    return bool(connection.execute(sa.text(f"SELECT pg_try_advisory_lock({SCOPED_KEY})"), {"key": key}).scalar())


def lock_for_transaction(connection: Connection, key: int) -> None:
    """Wait for the schema's lock `key`; it is let go when the transaction ends."""
    connection.execute(sa.text(f"SELECT pg_advisory_xact_lock({SCOPED_KEY})"), {"key": key})
