"""/rds-audit and /rds-drill list/history read the job store after the ack, never inside it: with the store stalled,
Slack still gets its empty ack at once, and the answer follows through the response_url once the store answers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from tests.scenario.conftest import ALICE, Story
from tests.support.fake_slack import RESPONSE_URL

STALL_SECONDS = 30.0  # longer than the ack's HTTP timeout (10 s): a read inside the ack fails the test


class Stalled:
    """A repository whose every method waits until `released` is set: a store that hangs."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.released = threading.Event()
        self.entered = threading.Event()

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.inner, name)
        if not callable(found):
            return found

        def stalled(*args: Any, **kwargs: Any) -> Any:
            self.entered.set()
            assert self.released.wait(STALL_SECONDS), f"{name} was never released"
            return found(*args, **kwargs)

        return stalled


def acked_before_the_read(story: Story, store: Stalled, command: str, text: str, response_id: str) -> str:
    status, body = story.command(command, text, ALICE, response_id)
    assert status == 200 and body == "", (status, body)  # acked while every store read hangs
    assert store.entered.wait(10), "the read never started"
    assert story.slack.responses(response_id) == []  # the read is held, so no answer can have been made
    store.released.set()
    return str(story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == response_id, timeout=15).body["text"])


def stall(setter: Callable[[Stalled], None], inner: object) -> Stalled:
    stalled = Stalled(inner)
    setter(stalled)
    return stalled


def test_rds_audit_acks_while_the_store_hangs_and_answers_once_it_answers(story: Story):
    commands = story.runtime.commands
    store = stall(lambda s: setattr(commands, "audit_log", s), commands.audit_log)
    answer = acked_before_the_read(story, store, "/rds-audit", "j-nope", "audit")
    assert "no audit events for j-nope" in answer


def test_rds_drill_list_acks_while_the_store_hangs_and_answers_once_it_answers(story: Story):
    drills = story.runtime.drills.commands
    store = stall(lambda s: setattr(drills, "runs", s), drills.runs)
    answer = acked_before_the_read(story, store, "/rds-drill", "list", "list")
    assert "prod-nightly: `30 4 * * *` Europe/Berlin" in answer and "last: never run" in answer


def test_rds_drill_history_acks_while_the_store_hangs(story: Story):
    drills = story.runtime.drills.commands
    store = stall(lambda s: setattr(drills, "runs", s), drills.runs)
    assert "prod-nightly: never run" in acked_before_the_read(story, store, "/rds-drill", "history prod-nightly", "h")
