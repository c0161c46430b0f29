"""A running rdsbot as Slack sees it: the real Bolt app behind waitress, its Web API calls going to a fake Slack
server on loopback, AWS on the moto server, the sandbox SQL Server on a fast clock."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from aws.clients import AwsClients
from aws.sandbox.moto_seed import SANDBOX_USERS, seed_sandbox
from bot.bootstrap import Rdsbot, SlackRuntime, build, build_slack_app
from bot.clock import Clock
from bot.domain import Job
from config.policy_model import EXAMPLE_POLICY, load_policy
from config.settings import Settings
from handlers.server import EVENTS_PATH, wsgi_app
from tests.support.aws_calls import CallRecorder
from tests.support.fake_slack import RESPONSE_URL, FakeSlackApi, RecordedCall
from tests.support.slack_requests import SIGNING_SECRET, block_action, post, serve_wsgi, slash_command

BOT_TOKEN = "xoxb-test-0000-secret-token"
ALICE, BOB, CAROL = (SANDBOX_USERS[name][0] for name in ("alice", "bob", "carol"))  # admin, admin, not admin


@dataclass
class Story:
    url: str
    slack: FakeSlackApi
    app: Rdsbot
    runtime: SlackRuntime
    aws: CallRecorder
    stop: threading.Event  # set: the engine (and audit shipper) of this process stop

    def crash(self) -> None:
        """Drop this process: its engine and Slack sender stop, and nothing it kept in memory survives; what is in
        the job store is all a restarted bot has (an in-process stand-in for SIGKILL, between two Slack calls)."""
        self.stop.set()
        self.runtime.outbox.stop()

    def restart(self) -> Story:
        """A new bot on the same job store, sandbox SQL Server state and Slack (the old one's server keeps serving
        Bolt requests into the dropped process; restarted stories need none)."""
        app = build(self.app.settings)
        runtime = build_slack_app(app)
        return Story(
            self.url, self.slack, app, runtime, CallRecorder(app.clients_for("us-east-1")), app.start_background()
        )

    def command(self, command: str, text: str, user: str, response_id: str = "r1") -> tuple[int, str]:
        request = slash_command(command, text, user_id=user, response_url=self.slack.response_url(response_id))
        return post(self.url + EVENTS_PATH, request.body, request.headers)

    def status(self, text: str, user: str, response_id: str) -> str:
        """/rds-status: an empty ack at once, then the answer through the response_url."""
        return self.answered("/rds-status", text, user, response_id)

    def answered(self, command: str, text: str, user: str, response_id: str) -> str:
        """A command that only reads the store (/rds-status, /rds-audit, /rds-drill list and history): an empty
        ack at once, then the answer through the response_url."""
        status, body = self.command(command, text, user, response_id)
        assert status == 200 and body == "", (status, body)
        return str(self.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == response_id).body["text"])

    def click(self, action_id: str, job_id: str, user: str) -> tuple[int, str]:
        channel, ts = self.card_of(job_id)
        request = block_action(action_id, job_id, user_id=user, channel=channel, message_ts=ts)
        return post(self.url + EVENTS_PATH, request.body, request.headers)

    def card_of(self, job_id: str, timeout: float = 30.0) -> tuple[str, str]:
        """Where the approval card was posted, once the bot has recorded it as the job's thread."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            thread = self.runtime.notifier.thread_of(self.job(job_id))
            if thread is not None:
                return thread
            time.sleep(0.02)
        raise AssertionError(f"job {job_id} never recorded its approval card")

    def card_shows(self, job_id: str, outcome: str, timeout: float = 30.0) -> RecordedCall:
        """Wait until the job's approval card is updated to show `outcome` (e.g. "✅ Restored"): the last write of
        a finished job's thread. Its final message goes out before it, so that message, or an empty outbox seen
        just after it, does not mean the card is up to date."""
        _, ts = self.card_of(job_id)
        return self.slack.wait_for(
            "chat.update", lambda c: c.body.get("ts") == ts and outcome in str(c.body.get("text")), timeout=timeout
        )

    def wait_card(self) -> tuple[RecordedCall, str]:
        card = self.slack.wait_for("chat.postMessage", lambda c: c.field("blocks") is not None, timeout=15)
        job_id = next(e["value"] for b in card.field("blocks") if b["type"] == "actions" for e in b["elements"])
        return card, job_id

    def job(self, job_id: str) -> Job:
        job = self.app.store.jobs.get_job(job_id)
        assert job is not None
        return job

    def audit_actions(self, job_id: str) -> list[str]:
        return [e.action for e in self.app.store.audit.audit_events(job_id)]


def ephemeral_text(body: str) -> str:
    return str(json.loads(body)["text"]) if body else ""


@pytest.fixture
def story(aws: AwsClients, tmp_path: Path) -> Iterator[Story]:
    with running_story(tmp_path) as running:
        yield running


@pytest.fixture
def story_without_bot_sources(aws: AwsClients, tmp_path: Path) -> Iterator[Story]:
    """The shipped example policy with network.bot_sources emptied."""
    data = yaml.safe_load(EXAMPLE_POLICY.read_text())
    data["network"]["bot_sources"] = []
    config = tmp_path / "policy.yaml"
    config.write_text(yaml.safe_dump(data))
    with running_story(tmp_path, config) as running:
        yield running


@contextmanager
def running_story(
    tmp_path: Path, config: Path | None = None, clock: Clock | None = None, restore_seconds: float = 0.5
) -> Iterator[Story]:
    policy = load_policy(config)
    seed_sandbox(policy)
    users = {slack_id: f"{name}@example.com" for name, (slack_id, _) in SANDBOX_USERS.items()}
    with FakeSlackApi(users=users) as slack:
        # The channels the policy names exist, so posts by name resolve to their ids as in Slack.
        for channel in {policy.approvals.channel, *(drill.report_channel for drill in policy.drills)}:
            slack.add_channel(channel.removeprefix("#"))
        settings = Settings(
            config=config,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=slack.base_url,
            database_url=f"sqlite:///{tmp_path / 'rdsbot.db'}",
            sqlserver_driver="sandbox",
            sandbox_restore_seconds=restore_seconds,
            poll_seconds=0.05,
        )
        app = build(settings, clock=clock)
        recorder = CallRecorder(app.clients_for("us-east-1"))
        runtime = build_slack_app(app)
        stop = app.start_background()
        with serve_wsgi(wsgi_app(runtime.bolt), threads=8) as url:
            yield Story(url=url, slack=slack, app=app, runtime=runtime, aws=recorder, stop=stop)
        stop.set()
        runtime.outbox.stop()
        app.close()


def any_text(calls: list[RecordedCall], needle: str) -> bool:
    return any(needle in str(c.body.get("text", "")) for c in calls)


def field_text(call: RecordedCall) -> Any:
    return call.body.get("text", "")
