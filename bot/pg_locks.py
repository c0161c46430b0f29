"""PostgreSQL advisory lock keys, one set per schema.

Advisory locks are database-wide, but rdsbot's tables live in a schema: two deployments sharing a database in
separate schemas (staging next to production, or every PostgreSQL test here) must not elect one engine leader
between them, nor wait on each other's migrations.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def schema_scoped_key(connection: Connection, key: int) -> int:
    """`key` for the schema `connection` works in (the first on its search path), as a signed 64-bit lock key."""
    schema = connection.execute(sa.text("SELECT current_schema()")).scalar() or ""
    digest = hashlib.sha256(f"{key}@{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_for_transaction(connection: Connection, key: int) -> None:
    """Wait for the schema's lock `key`; it is let go when the transaction ends."""
    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": schema_scoped_key(connection, key)})
