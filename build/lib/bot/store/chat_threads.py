"""Each job's chat thread: one row per job and chat surface."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bot.errors import UnknownJobError
from bot.ports import ThreadRef
from bot.store.database import Database
from bot.store.schema import chat_threads, jobs


class SqlChatThreads:
    """The ChatThreads port on SQLAlchemy."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def save(self, job_id: str, surface: str, channel: str, thread_ts: str) -> None:
        """Remember the job's thread on `surface`, replacing any earlier one; UnknownJobError for no such job."""
        values = {"job_id": job_id, "surface": surface, "channel": channel, "thread_ts": thread_ts}
        with self._db.transaction(write=True) as conn:
            # Checked here rather than left to the foreign key, which SQLite does not enforce.
            if conn.execute(sa.select(jobs.c.id).where(jobs.c.id == job_id)).first() is None:
                raise UnknownJobError(job_id)
            insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(chat_threads)
            conn.execute(
                insert.values(**values).on_conflict_do_update(
                    index_elements=["job_id", "surface"], set_={"channel": channel, "thread_ts": thread_ts}
                )
            )

    def find(self, job_id: str, surface: str) -> ThreadRef | None:
        """The job's thread on `surface`, or None when the job was not asked for there."""
        query = sa.select(chat_threads.c.channel, chat_threads.c.thread_ts).where(
            chat_threads.c.job_id == job_id, chat_threads.c.surface == surface
        )
        with self._db.transaction(write=False) as conn:
            row = conn.execute(query).first()
        return None if row is None else ThreadRef(surface=surface, channel=row.channel, thread_ts=row.thread_ts)
