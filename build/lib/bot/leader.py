"""Exactly one replica in a role (the drill scheduler, the restore engine): a PostgreSQL session advisory lock held
on a dedicated connection, one lock key per role.

The lock lives as long as the leader's database session, so a leader that dies (process killed, connection cut)
frees it and the next follower to try takes over. SQLite means one process: it is always the leader.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from bot.pg_locks import try_lock_for_session

log = logging.getLogger(__name__)
# Shared by every rdsbot replica on one schema (see bot.pg_locks); distinct from the store's lock keys.
LEADER_LOCK_KEY = 0x7264_7362_6F74_0D
ENGINE_LOCK_KEY = 0x7264_7362_6F74_0E

Callback = Callable[[], None]


class LeaderElector:
    """Calls `on_elected` when this replica becomes the scheduler and `on_deposed` when it stops being it."""

    def __init__(
        self,
        database_url: str,
        on_elected: Callback,
        on_deposed: Callback,
        *,
        retry_seconds: float = 5.0,
        key: int = LEADER_LOCK_KEY,
        role: str = "drill scheduler",
    ) -> None:
        self.role = role
        self._url = sa.make_url(database_url)
        self._on_elected = on_elected
        self._on_deposed = on_deposed
        self.retry_seconds = retry_seconds
        self._key = key
        self._engine = sa.create_engine(self._url, poolclass=NullPool) if self._postgres else None
        self._connection: Connection | None = None
        self._leader = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def _postgres(self) -> bool:
        return self._url.get_backend_name() == "postgresql"

    @property
    def is_leader(self) -> bool:
        return self._leader

    def step(self) -> bool:
        """One election round: a follower tries the lock, a leader checks it still holds its session."""
        with self._lock:
            if self._leader:
                if not self._still_connected():
                    self._depose("lost its database session")
            elif self._acquire():
                self._leader = True
                log.info("this replica is now the %s", self.role)
                try:
                    self._on_elected()
                except Exception:
                    # Holding the lock without scheduling would starve every replica: let another one try.
                    self._depose("could not start scheduling")
                    raise
            return self._leader

    def start(self) -> None:
        """Run election rounds every retry_seconds in a daemon thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"leader-{self.role.replace(' ', '-')}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Step down: stop scheduling and free the lock for another replica."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            if self._leader:
                self._depose("stopped")
        if self._engine is not None:
            self._engine.dispose()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # a failed round is retried; the loop itself must not die
                log.exception("leader election round failed")
            self._stop.wait(self.retry_seconds)

    def _acquire(self) -> bool:
        if self._engine is None:
            return True
        try:
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except sa.exc.OperationalError as exc:
            log.warning("cannot reach the database for leader election: %s", exc.orig)
            return False
        try:
            won = try_lock_for_session(connection, self._key)
        except sa.exc.DBAPIError:
            connection.close()
            raise
        if not won:
            connection.close()
            return False
        self._connection = connection
        return True

    def _still_connected(self) -> bool:
        if self._connection is None:
            return self._engine is None
        try:
            self._connection.execute(sa.text("SELECT 1"))
        except sa.exc.DBAPIError:
            return False
        return True

    def _depose(self, why: str) -> None:
        self._leader = False
        # Stepping down on shutdown is routine; losing the lock otherwise deserves a warning.
        log.log(
            logging.INFO if why == "stopped" else logging.WARNING,
            "this replica is no longer the %s: %s",
            self.role,
            why,
        )
        try:
            self._on_deposed()
        finally:
            if self._connection is not None:
                try:
                    # Closing the session frees the session-level lock; no explicit unlock needed.
                    self._connection.close()
                except sa.exc.DBAPIError:
                    log.debug("closing a dead leader connection failed", exc_info=True)
                self._connection = None
