"""/rds-status answers from the slow lane: requests that queue for the same text share one read made after all of
them arrived; a request after that read began waits for the next one."""

from __future__ import annotations

from typing import Any

from handlers.status import _Waiting


def responder(name: str, said: list[str]) -> Any:
    return lambda **reply: said.append(name)


def test_queued_requests_share_one_read_and_later_ones_wait_for_the_next() -> None:
    waiting, said = _Waiting(), list[str]()
    assert waiting.add("", responder("a", said)) is True  # schedules the read
    assert waiting.add("", responder("b", said)) is False  # rides along
    assert waiting.add("j1", responder("c", said)) is True  # another text, another read
    first = waiting.take("")
    assert waiting.add("", responder("d", said)) is True  # arrived after the read began: a new one
    for respond in first:
        respond(text="table")
    assert said == ["a", "b"] and len(waiting.take("")) == 1 and waiting.take("") == []
