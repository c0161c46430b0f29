"""Throwaway databases for store tests: a SQLite file, or a fresh PostgreSQL schema dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.pool import NullPool

from bot.store.database import alembic_config

POSTGRES_URL = os.environ.get("RDSBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def sqlite_url(directory: os.PathLike[str] | str) -> str:
    """A SQLite file URL inside `directory`."""
    return f"sqlite:///{os.path.join(directory, 'rdsbot.db')}"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL whose every connection works in a new, empty schema; the schema is dropped on exit.

    An unreachable server fails the test: a green run must mean PostgreSQL was really exercised.
    """
    schema = f"rdsbot_test_{uuid.uuid4().hex[:12]}"
    base = sa.make_url(POSTGRES_URL).update_query_dict({"connect_timeout": "5"})
    admin = sa.create_engine(base, poolclass=NullPool)
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is unreachable: {exc.orig}", pytrace=False)
    try:
        # libpq's `options` puts the schema first on the search path, so unqualified names land there.
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def seed_at_revision(url: str, revision: str, rows: Mapping[str, Sequence[dict[str, Any]]]) -> None:
    """Migrate an empty database to `revision` and insert `rows` (table -> rows) as that schema takes them,
    without the store's help: the starting point of an upgrade test."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), revision)
        tables = sa.MetaData()
        tables.reflect(engine, only=list(rows))
        with engine.begin() as conn:
            for table, values in rows.items():
                conn.execute(tables.tables[table].insert(), list(values))
    finally:
        engine.dispose()
