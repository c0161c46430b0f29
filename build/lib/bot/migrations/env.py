"""Alembic environment of the job store: the store's Database hands it a connection; the alembic CLI builds its own.

From a checkout: `RDSBOT_DATABASE_URL=sqlite:///rdsbot.db alembic -c bot/migrations/alembic.ini revision -m "..."`.
"""

from __future__ import annotations

import os
from typing import Literal

import sqlalchemy as sa
from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from bot.store.schema import metadata

config = context.config


def _url() -> str:
    url = os.environ.get("RDSBOT_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set RDSBOT_DATABASE_URL to the database to migrate")
    return url


def _render_item(kind: str, obj: object, autogen_context: AutogenContext) -> str | Literal[False]:
    # Revisions stay frozen in time: spell the store's column types as plain SQLAlchemy, never import bot.store.
    if kind == "type" and isinstance(obj, sa.TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_item=_render_item,
        render_as_batch=True,  # SQLite can only ALTER by rebuilding the table
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        _run(given)
        return
    engine = sa.create_engine(_url(), poolclass=sa.NullPool)
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
