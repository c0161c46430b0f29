"""Chat that holds up, checked from outside: signed requests into the real Bolt app in HTTP mode, every Web API
call and every ack recorded.

- Text someone else controls (a backup key, a deny reason, a job id typed into a command) reaches Slack escaped
  once (Slack doc "Formatting text for app surfaces", "Escaping text"): `<!channel>` never notifies a channel and
  `<https://evil|prod.bak>` never becomes a link, in acks, ephemerals, the card, the thread and errors alike.
- A request or click signed correctly but sent from another workspace (`team_id`) is refused with a reason and
  creates nothing: no job, no audit event, no AWS call.
"""

from __future__ import annotations

import json
from typing import Any

from bot.blocks import APPROVE_ACTION, DENY_ACTION, DENY_REASON_BLOCK, DENY_REASON_INPUT, DENY_REASON_VIEW
from bot.domain import JobStatus
from handlers.server import EVENTS_PATH
from tests.scenario.conftest import ALICE, BOB, Story, ephemeral_text
from tests.scenario.test_restore_story import wait_status
from tests.support.fake_slack import RESPONSE_URL, RecordedCall
from tests.support.slack_requests import block_action, post, slash_command, view_submission
from tests.support.waiting import holds_throughout

KEY = "<!channel>R&D.bak"
SHOWN_KEY = "&lt;!channel&gt;R&amp;D.bak"
LINK = "<https://evil.example|prod.bak>"
RAW = ("<!channel>", "<!here>", "<https://evil", "<@U0BOSS>")
TWICE = ("&amp;lt;", "&amp;gt;", "&amp;amp;")
OTHER_TEAM = "T0OTHER"


def sent_texts(call: RecordedCall) -> list[str]:
    """Every string a Web API call or response_url post carried, JSON fields (blocks, files) decoded."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for name in call.body:
        walk(call.field(name))
    return found


def assert_nothing_raw(texts: list[str]) -> None:
    for text in texts:
        for raw in RAW + TWICE:
            assert raw not in text, (raw, text)


def test_mentions_and_links_typed_into_a_request_never_reach_slack_unescaped(story: Story) -> None:
    s3 = story.app.clients_for("us-east-1").s3
    s3.copy_object(Bucket="rdsbot-backups", Key=KEY, CopySource={"Bucket": "rdsbot-backups", "Key": "prod-backup.bak"})
    acks: list[str] = []

    def command(name: str, text: str, user: str, response_id: str) -> str:
        status, body = story.command(name, text, user, response_id)
        assert status == 200
        acks.append(ephemeral_text(body))
        return acks[-1]

    # A request the parser refuses quotes the input in the ack; a missing backup quotes it after the ack.
    assert "&lt;!channel&gt;.txt" in command("/rds-restore", "<!channel>.txt db.m5.large", ALICE, "bad")
    command("/rds-restore", f"s3://rdsbot-backups/{LINK}.bak db.m5.large", ALICE, "missing")
    missing = story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == "missing").body["text"]
    assert "&lt;https://evil.example|prod.bak&gt;.bak" in missing
    # Job ids typed by hand are echoed in the ack and in the answer.
    assert "&lt;!channel&gt;" in command("/rds-restore", "cancel <!channel>", ALICE, "cancel")
    story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == "cancel")
    story.command("/rds-status", "<!channel>", ALICE, "status-bad")
    assert (
        "&lt;!channel&gt;" in story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == "status-bad").body["text"]
    )

    # The real request: the ack, the card, the dry run's plan, the thread and the completion all carry the key.
    assert SHOWN_KEY in command("/rds-restore", f"s3://rdsbot-backups/{KEY} db.m5.large", ALICE, "real")
    card, job_id = story.wait_card()
    assert any(SHOWN_KEY in text for text in sent_texts(card))
    command("/rds-restore", f"s3://rdsbot-backups/{KEY} db.m5.large --dry-run", ALICE, "dry")
    assert SHOWN_KEY in story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == "dry").body["text"]
    story.card_of(job_id)
    story.click(APPROVE_ACTION, job_id, BOB)
    wait_status(story, job_id, JobStatus.SUCCEEDED)
    story.slack.wait_for("chat.postMessage", lambda c: "restored" in str(c.body.get("text")), timeout=30)
    assert SHOWN_KEY in story.status(job_id, BOB, "status-job")  # the validate stage's detail names the backup

    # A second request, denied with a reason that tries to notify and to disguise a link.
    command("/rds-restore", f"s3://rdsbot-backups/{KEY} db.m5.large", ALICE, "second")
    waiting = story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == "second").body["text"]
    second_id = waiting.split()[1]  # "Request <job> is waiting for an admin's approval ..."
    channel, ts = story.card_of(second_id)
    story.click(DENY_ACTION, second_id, BOB)
    story.slack.wait_for("views.open")
    reason = f"<!here> see {LINK} & <@U0BOSS>"
    submit = view_submission(
        DENY_REASON_VIEW, f"{second_id}|{channel}|{ts}", {DENY_REASON_BLOCK: {DENY_REASON_INPUT: reason}}, BOB
    )
    assert post(story.url + EVENTS_PATH, submit.body, submit.headers)[0] == 200
    denied = story.slack.wait_for("chat.update", lambda c: "Denied by <@U0BOB>" in str(c.body.get("text")))
    assert "&lt;!here&gt; see &lt;https://evil.example|prod.bak&gt; &amp; &lt;@U0BOSS&gt;" in denied.body["text"]
    assert story.status(second_id, BOB, "status-denied").count("&lt;!here&gt;") == 1

    everything = [text for call in story.slack.calls() for text in sent_texts(call)]
    assert any(SHOWN_KEY in text for text in everything)
    assert_nothing_raw(everything + acks)


def test_a_request_signed_for_another_workspace_is_refused_and_creates_nothing(story: Story) -> None:
    # A genuine request first, so there is a card a click from elsewhere could try to approve.
    story.command("/rds-restore", "prod-backup.bak db.m5.large", ALICE)
    _, job_id = story.wait_card()
    channel, ts = story.card_of(job_id)
    events_before, calls_before = len(story.app.store.audit.audit_events()), len(story.aws.calls)

    foreign = slash_command(
        "/rds-restore",
        "prod-backup.bak db.m5.large",
        user_id="U0OUTSIDER",
        team_id=OTHER_TEAM,
        response_url=story.slack.response_url("foreign"),
    )
    status, body = post(story.url + EVENTS_PATH, foreign.body, foreign.headers)
    answer = json.loads(body)
    assert status == 200 and answer["response_type"] == "ephemeral"
    assert answer["text"] == (
        "This rdsbot serves only the Slack workspace T0RDSBOT; this request came from T0OTHER. Nothing was done; "
        "ask in your own workspace's rdsbot."
    )
    # An admin's user id, but clicking from another workspace (Slack Connect): not an approval.
    click = block_action(APPROVE_ACTION, job_id, user_id=BOB, channel=channel, message_ts=ts, team_id=OTHER_TEAM)
    assert post(story.url + EVENTS_PATH, click.body, click.headers)[0] == 200
    status_request = slash_command("/rds-status", job_id, user_id="U0OUTSIDER", team_id=OTHER_TEAM)
    assert "serves only the Slack workspace T0RDSBOT" in ephemeral_text(
        post(story.url + EVENTS_PATH, status_request.body, status_request.headers)[1]
    )

    holds_throughout(
        lambda: (
            [j.id for j in story.app.store.jobs.list_jobs()] == [job_id]
            and story.job(job_id).status == JobStatus.AWAITING_APPROVAL
            and len(story.app.store.audit.audit_events()) == events_before
            and len(story.aws.calls) == calls_before
            and story.slack.responses("foreign") == []
            and story.slack.calls("chat.update") == []
            and story.slack.calls("users.info") == []
        ),
        seconds=0.5,
        what="no job, no audit event, no AWS call, no Slack answer after requests from another workspace",
    )
