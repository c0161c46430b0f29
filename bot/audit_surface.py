"""Where an audited action came in: Slack, the console, a drill, the command line, or the engine itself.

The console speaks for Slack users (`as <user>` in the sandbox), so the actor alone cannot tell a click in Slack
from a line typed at a terminal with the bot's credentials; the surface can. A process says once what it serves
(`rdsbot serve`: slack; `rdsbot shell`: console; anything else: cli); the drill runner and the engine name their
own events, whatever process they run in. Pure: a context variable, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum


class AuditSurface(StrEnum):
    SLACK = "slack"
    CONSOLE = "console"
    DRILL = "drill"
    CLI = "cli"
    ENGINE = "engine"  # stage transitions: the engine acts on an approved job, not on anyone's request


_process_surface: AuditSurface | None = None
_current: ContextVar[AuditSurface | None] = ContextVar("rdsbot_audit_surface", default=None)


def set_process_surface(surface: AuditSurface | None) -> None:
    """What this process serves; called once by its entry point (None: unset, for tests that call it in-process)."""
    global _process_surface
    _process_surface = surface


def current_surface() -> AuditSurface | None:
    """The surface of events made here and now: the innermost `audit_surface`, else the process's, else None."""
    return _current.get() or _process_surface


@contextmanager
def audit_surface(surface: AuditSurface) -> Iterator[None]:
    """Events made inside this block (in this thread) come from `surface`."""
    token = _current.set(surface)
    try:
        yield
    finally:
        _current.reset(token)
