"""Whether a job store is at the latest migration, read without migrating it (rdsbot doctor is read-only).

Opening a SqlStore migrates to head; the doctor must not, so it compares Alembic's current revisions with the
packaged heads on a connection of its own.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.doctor import CheckResult, fail, ok
from bot.store.database import alembic_config


def store_at_head(database_url: str) -> list[CheckResult]:
    """ok when the store's revisions are the packaged heads; FAIL when unreachable or behind."""
    url = sa.make_url(database_url)
    subject = url.render_as_string(hide_password=True)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
            heads = set(ScriptDirectory.from_config(alembic_config(connection)).get_heads())
    except sa.exc.SQLAlchemyError as exc:
        return [
            fail(
                "settings",
                "job store",
                subject,
                f"unreachable: {exc.__class__.__name__}: {str(exc).splitlines()[0]}",
                "check RDSBOT_DATABASE_URL and that the database server is up",
            )
        ]
    finally:
        engine.dispose()
    if current == heads:
        return [ok("settings", "job store", subject, f"at the latest migration {', '.join(sorted(heads))}")]
    at = ", ".join(sorted(current)) or "no schema yet"
    return [
        fail(
            "settings",
            "job store",
            subject,
            f"at {at}, latest is {', '.join(sorted(heads))}",
            "start rdsbot once (`rdsbot worker --once` or `rdsbot serve`): it migrates the store to head on open",
        )
    ]
