"""One database for every repository: the engine, one-transaction-per-call, and migrating to head on open.

A SQLite file by default, PostgreSQL by URL. Timestamps go in and come out timezone-aware UTC on every backend.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from bot.pg_locks import lock_for_transaction

MIGRATIONS_DIR = Path(__file__).parent.parent / "migrations"
# SQLite waits this long for another writer instead of failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any constant shared by every rdsbot process; it only has to differ from other apps' advisory locks.
_MIGRATION_LOCK_KEY = 0x7264_7362_6F74  # "rdsbot"
_READ_ONLY = "rdsbot_read_only"


def alembic_config(connection: Connection) -> Config:
    """An Alembic config for the packaged migrations, bound to `connection` (no alembic.ini involved)."""
    config = Config()
    # ConfigParser interpolates '%', which a checkout path may contain.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def upgrade_schema(engine: Engine, revision: str = "heads") -> None:
    """Migrate the database to `revision` in one transaction; a no-op when it is already there."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two bots starting at once must not both create the tables; the second waits, then finds head.
            lock_for_transaction(connection, _MIGRATION_LOCK_KEY)
        command.upgrade(alembic_config(connection), revision)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any, *, in_memory: bool) -> None:
    # Take BEGIN into our own hands: the driver's legacy mode skips it for SELECT and DDL.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if not in_memory:
            # Readers never block the writer and the writer never blocks readers.
            cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()
    # Foreign keys stay unenforced on SQLite on purpose: with them on, the table rebuilds of Alembic batch
    # migrations cascade an implicit DELETE; PostgreSQL enforces them.


def _sqlite_on_begin(connection: Connection) -> None:
    # Writers take the write lock up front, so a concurrent writer queues on busy_timeout instead of failing
    # when it would upgrade a read lock; readers start a deferred transaction that sees one snapshot.
    mode = "DEFERRED" if connection.get_execution_options().get(_READ_ONLY) else "IMMEDIATE"
    connection.exec_driver_sql(f"BEGIN {mode}")


def _create_engine(url: str | sa.URL) -> tuple[Engine, bool]:
    """The engine for `url`, and whether it is a single shared in-memory SQLite connection."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True), False
    in_memory = parsed.database in (None, "", ":memory:")
    if in_memory:
        # One connection shared by every thread, or each thread would see its own empty database.
        engine = sa.create_engine(parsed, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        engine = sa.create_engine(parsed)
    sa.event.listen(engine, "connect", lambda conn, rec: _sqlite_on_connect(conn, rec, in_memory=in_memory))
    sa.event.listen(engine, "begin", _sqlite_on_begin)
    return engine, in_memory


class Database:
    """The engine the repositories share; migrates the database to head when opened."""

    def __init__(self, url: str | sa.URL) -> None:
        self.engine, in_memory = _create_engine(url)
        # The in-memory database is one shared connection: transactions must take turns on it.
        self._turn: AbstractContextManager[object] = threading.Lock() if in_memory else nullcontext()
        try:
            with self._turn:
                upgrade_schema(self.engine)
        except BaseException:
            self.engine.dispose()
            raise

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Connection]:
        """One transaction: writers take the write lock up front (SQLite); readers see one snapshot."""
        with self._turn, self.engine.connect() as connection:
            if not write:
                connection.execution_options(**{_READ_ONLY: True})
                if connection.dialect.name == "postgresql":
                    # A job and its stages are read from one snapshot, never half of a concurrent save.
                    connection.execution_options(isolation_level="REPEATABLE READ")
            try:
                with connection.begin():
                    yield connection
            except sa.exc.StatementError as exc:
                # A value our types refused (a naive datetime) surfaces as itself, not wrapped as a SQL error.
                if type(exc) is sa.exc.StatementError and isinstance(exc.orig, ValueError):
                    raise exc.orig from exc
                raise
