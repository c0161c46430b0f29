"""Helpers for the audit scenarios: drive a restore or a denial through Slack, break S3 for a while, read the trail
back from S3 the way an auditor would."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from botocore.exceptions import EndpointConnectionError

from bot.audit_chain import day_of
from bot.audit_outbox import AuditShipper
from bot.blocks import APPROVE_ACTION, DENY_ACTION, DENY_REASON_BLOCK, DENY_REASON_INPUT, DENY_REASON_VIEW
from bot.domain import JobStatus
from handlers.server import EVENTS_PATH
from tests.scenario.conftest import ALICE, BOB, Story
from tests.support.slack_requests import post, view_submission


def shipper_of(story: Story) -> AuditShipper:
    shipper = story.app.audit_shipper
    assert shipper is not None, "the example policy names an audit bucket"
    return shipper


def wait_status(story: Story, job_id: str, status: JobStatus, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while story.job(job_id).status != status:
        assert time.monotonic() < deadline, f"job {job_id} is {story.job(job_id).status}, expected {status}"
        time.sleep(0.05)


def restore(story: Story, response_id: str = "r1") -> str:
    """Alice asks, Bob approves, the restore runs to the end; the job id."""
    story.command("/rds-restore", "prod-backup.bak db.m5.large", ALICE, response_id=response_id)
    _, job_id = story.wait_card()
    story.card_of(job_id)
    story.click(APPROVE_ACTION, job_id, BOB)
    wait_status(story, job_id, JobStatus.SUCCEEDED)
    return job_id


def deny(story: Story, reason: str = "not during the freeze") -> str:
    """Alice asks, Bob denies with a reason; the job id."""
    seen = {c.raw for c in story.slack.calls("chat.postMessage")}
    story.command("/rds-restore", "prod-backup.bak db.m5.large", ALICE, response_id="deny")
    card = story.slack.wait_for("chat.postMessage", lambda c: c.raw not in seen and c.field("blocks") is not None)
    job_id = str(next(e["value"] for b in card.field("blocks") if b["type"] == "actions" for e in b["elements"]))
    channel, ts = story.card_of(job_id)
    story.click(DENY_ACTION, job_id, BOB)
    story.slack.wait_for("views.open", lambda c: job_id in json.dumps(c.field("view")))
    submit = view_submission(
        DENY_REASON_VIEW, f"{job_id}|{channel}|{ts}", {DENY_REASON_BLOCK: {DENY_REASON_INPUT: reason}}, user_id=BOB
    )
    post(story.url + EVENTS_PATH, submit.body, submit.headers)
    wait_status(story, job_id, JobStatus.DENIED)
    return job_id


class S3Outage:
    """PutObject on the audit shipper's client fails while `down`; counts the calls it refused."""

    def __init__(self, shipper: AuditShipper) -> None:
        self.refused = 0
        self._down = threading.Event()
        self._client = shipper.sink.client  # type: ignore[attr-defined]
        self._client.meta.events.register("before-call.s3.PutObject", self._fail, unique_id="audit-s3-outage")

    def start(self) -> None:
        self._down.set()

    def end(self) -> None:
        self._down.clear()

    def _fail(self, **_: Any) -> None:
        if self._down.is_set():
            self.refused += 1
            raise EndpointConnectionError(endpoint_url="https://s3.us-east-1.amazonaws.com")


def trail_days(story: Story) -> list[str]:
    return sorted({e.day or day_of(e.at) for e in story.app.store.audit.audit_events()})


def shipped_records(story: Story) -> list[tuple[str, int, dict[str, Any]]]:
    """Every line of every day object in S3: (key, line number, record), in key then line order."""
    shipper = shipper_of(story)
    found = []
    for day in trail_days(story):
        for key in shipper.sink.keys(shipper.day_prefix(day)):
            if key.endswith(".jsonl"):  # the batches, not a closed day's close object
                body = shipper.sink.read(key) or b""
                found += [(key, n, json.loads(line)) for n, line in enumerate(body.splitlines(), start=1)]
    return found
