"""An approver's decision across a real SIGKILL: `rdsbot serve` as a process (file SQLite store, the fake Slack,
moto on loopback) is killed after Bob's Deny is saved and before its card update is queued. RDSBOT_SANDBOX_HOLD_DECISION
stops the announcing thread right there (aws/sandbox/decision_hold.py), so the kill lands in the window every time;
the restart finds the job marked and the leader queues the card's update once (bot/decision_notice.py)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from aws.clients import AwsClients
from bot.blocks import DENY_REASON_BLOCK, DENY_REASON_INPUT, DENY_REASON_VIEW
from bot.domain import JobStatus
from handlers.server import EVENTS_PATH
from handlers.slack_notifier import decision_ref
from tests.scenario import served_bot as served
from tests.scenario.conftest import BOB
from tests.scenario.served_bot import ServiceEnv
from tests.scenario.test_outbox_sigkill import DELIVERY_DEADLINE, request_restore
from tests.support.slack_requests import post, view_submission
from tests.support.waiting import eventually


@pytest.fixture
def service_env(aws: AwsClients, tmp_path: Path) -> Iterator[ServiceEnv]:
    with served.service_environment(tmp_path, restore_seconds=1.0) as env:
        yield env


def test_sigkill_after_a_deny_is_saved_before_its_card_update_is_queued_then_the_restart_updates_the_card_once(
    service_env: ServiceEnv,
) -> None:
    env, slack, store = service_env
    port = served.free_port()
    with served.serving({**env, "RDSBOT_SANDBOX_HOLD_DECISION": "1"}, port) as first:
        url = f"http://127.0.0.1:{port}"
        job_id, channel, card_ts = request_restore(url, slack, store)
        reason = {DENY_REASON_BLOCK: {DENY_REASON_INPUT: "<!channel> freeze"}}
        submit = view_submission(DENY_REASON_VIEW, f"{job_id}|{channel}|{card_ts}", reason, user_id=BOB)
        assert post(url + EVENTS_PATH, submit.body, submit.headers)[0] == 200
        served.wait_job(
            store, job_id, "saved as denied", lambda j: j.status == JobStatus.DENIED and j.engine.finish_unannounced
        )
        first.send_signal(signal.SIGKILL)
        assert first.wait(30) == -signal.SIGKILL
        served.read_all(first)
    # Killed in the window: the decision is saved, its card update is not queued (before the fix, it never would be).
    assert store.slack_outbox.by_ref(decision_ref(job_id)) is None
    assert not [c for c in slack.calls("chat.update") if c.field("ts") == card_ts]

    with served.serving(env, served.free_port()):
        served.wait_job(store, job_id, "announced", lambda j: not j.engine.finish_unannounced)
        eventually(lambda: store.slack_outbox.depth() == 0, DELIVERY_DEADLINE, "the restart delivered the update")

    updates = [c for c in slack.calls("chat.update") if c.field("ts") == card_ts and c.status == 200]
    assert len(updates) == 1, updates
    text = str(updates[0].field("text"))
    assert text.startswith(f"⛔ Denied by <@{BOB}>") and text.endswith(": &lt;!channel&gt; freeze"), text
    [card] = [m for m in slack.thread(channel, card_ts) if m.get("ts") == card_ts]
    assert "Approve" not in str(card["blocks"])  # the buttons are gone
    denied = store.jobs.get_job(job_id)
    assert denied is not None and denied.status == JobStatus.DENIED
