"""The Slack harness itself: the fake Web API answers and records like Slack, and signed requests pass Bolt."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt import Ack, App, Respond
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from tests.support.fake_slack import BOT_USER_ID, DROPPED, RESPONSE_URL, TEAM_ID, FakeSlackApi
from tests.support.slack_requests import (
    EVENTS_PATH,
    SIGNING_SECRET,
    block_action,
    post,
    serve_wsgi,
    slash_command,
    view_submission,
)

TOKEN = "xoxb-test-token"


@pytest.fixture
def fake() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(users={"U0ALICE": "alice@example.com"}, usergroups={"dba-admins": ["U0ALICE"]}) as fake:
        yield fake


def client(fake: FakeSlackApi, **kwargs) -> WebClient:
    return WebClient(token=TOKEN, base_url=fake.base_url, **kwargs)


def test_posted_message_is_recorded_with_its_body_and_token(fake: FakeSlackApi) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*restore* queued"}}]
    first = client(fake).chat_postMessage(channel="C0DBAOPS", text="restore queued", blocks=blocks)
    second = client(fake).chat_postMessage(channel="C0DBAOPS", text="again")

    (call, _) = fake.calls("chat.postMessage")
    assert call.body["text"] == "restore queued"
    assert call.body["blocks"] == blocks
    assert call.header("authorization") == f"Bearer {TOKEN}"
    assert call.token == TOKEN
    assert first["channel"] == "C0DBAOPS"
    assert abs(float(first["ts"]) - time.time()) < 60  # a ts is the post's time, as in Slack
    assert float(second["ts"]) > float(first["ts"])
    assert fake.message("C0DBAOPS", first["ts"])["text"] == "restore queued"


def test_form_encoded_call_is_parsed_and_answers_from_the_configured_users(fake: FakeSlackApi) -> None:
    user = client(fake).users_info(user="U0ALICE")

    assert user["user"]["profile"]["email"] == "alice@example.com"
    assert fake.calls("users.info")[0].body["user"] == "U0ALICE"
    with pytest.raises(SlackApiError, match="user_not_found"):
        client(fake).users_info(user="U0NOBODY")


def test_auth_test_names_the_team_and_the_bot(fake: FakeSlackApi) -> None:
    answer = client(fake).auth_test()

    assert (answer["team_id"], answer["user_id"]) == (TEAM_ID, BOT_USER_ID)
    assert answer["bot_id"]


def test_call_without_a_token_is_not_authed(fake: FakeSlackApi) -> None:
    with pytest.raises(SlackApiError, match="not_authed"):
        WebClient(base_url=fake.base_url).chat_postMessage(channel="C1", text="hi")


def test_usergroup_members_are_listed(fake: FakeSlackApi) -> None:
    groups = client(fake).usergroups_list(include_users=True)["usergroups"]

    (group,) = groups
    assert (group["handle"], group["users"]) == ("dba-admins", ["U0ALICE"])
    assert client(fake).usergroups_users_list(usergroup=group["id"])["users"] == ["U0ALICE"]
    with pytest.raises(SlackApiError, match="no_such_subteam"):
        client(fake).usergroups_users_list(usergroup="S0NOPE")


def test_updated_message_shows_the_new_content_and_unknown_ts_is_refused(fake: FakeSlackApi) -> None:
    posted = client(fake).chat_postMessage(channel="C1", text="awaiting approval")

    client(fake).chat_update(channel="C1", ts=posted["ts"], text="approved")

    assert fake.message("C1", posted["ts"])["text"] == "approved"
    permalink = client(fake).chat_getPermalink(channel="C1", message_ts=posted["ts"])["permalink"]
    assert permalink.endswith("/archives/C1/p" + posted["ts"].replace(".", ""))
    with pytest.raises(SlackApiError, match="message_not_found"):
        client(fake).chat_update(channel="C1", ts="1.000000", text="nope")


def test_modal_is_opened_then_updated_by_its_id(fake: FakeSlackApi) -> None:
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Restore"}, "blocks": []}
    opened = client(fake).views_open(trigger_id="1.2.3", view=view)["view"]

    client(fake).views_update(view_id=opened["id"], view={**view, "title": {"type": "plain_text", "text": "Done"}})

    assert fake.view(opened["id"])["title"]["text"] == "Done"


def test_ephemeral_and_direct_message_channel(fake: FakeSlackApi) -> None:
    ephemeral = client(fake).chat_postEphemeral(channel="C1", user="U0ALICE", text="only you")
    dm = client(fake).conversations_open(users="U0ALICE")

    assert ephemeral["message_ts"]
    assert dm["channel"]["id"] == client(fake).conversations_open(users=["U0ALICE"])["channel"]["id"]


def test_external_file_upload_arrives_whole(fake: FakeSlackApi) -> None:
    done = client(fake).files_upload_v2(
        channel="C0123456789", content="restore log\n", filename="restore.log", title="Log"
    )

    file_id = done["file"]["id"]
    assert fake.uploaded(file_id) == b"restore log\n"
    assert [c.method for c in fake.calls()] == [
        "files.getUploadURLExternal",
        "file_upload",
        "files.completeUploadExternal",
    ]


def test_files_upload_v2_refuses_a_channel_name_where_slack_wants_an_id(fake: FakeSlackApi) -> None:
    """docs.slack.dev "files.completeUploadExternal": `channel_id` is a channel ID; Slack answers a name with
    invalid_arguments and the pattern it failed (the answer quoted in PostHog/posthog#47718)."""
    with pytest.raises(SlackApiError) as refused:
        client(fake).files_upload_v2(channel="#rds-drills", content=b"png", filename="chart.png")
    assert refused.value.response["error"] == "invalid_arguments"
    assert refused.value.response["response_metadata"]["messages"] == [
        "[ERROR] input must match regex pattern: ^[CGDZ][A-Z0-9]{8,}$ [json-pointer:/channel_id]"
    ]
    with pytest.raises(SlackApiError):  # a lenient fake shares to `channels` names; Slack wants ids there too
        client(fake).files_completeUploadExternal(files=[{"id": "F1"}], channels=["rds-drills"])


def test_alt_text_is_kept_and_over_1000_characters_is_refused(fake: FakeSlackApi) -> None:
    """docs.slack.dev "files.getUploadURLExternal": `alt_txt` for screen readers; alt_txt_too_large past 1000."""
    done = client(fake).files_upload_v2(
        channel="C0123456789", content=b"png", filename="chart.png", alt_txt="bars of time-to-restore"
    )
    assert fake.alt_text(done["file"]["id"]) == "bars of time-to-restore"
    with pytest.raises(SlackApiError) as refused:
        client(fake).files_upload_v2(channel="C0123456789", content=b"png", filename="c.png", alt_txt="x" * 1001)
    assert refused.value.response["error"] == "alt_txt_too_large"


def test_post_by_channel_name_answers_the_channel_id(fake: FakeSlackApi) -> None:
    """docs.slack.dev "chat.postMessage": `channel` is an ID or a name; the answer's `channel` is the ID."""
    channel_id = fake.add_channel("rds-drills")
    posted = client(fake).chat_postMessage(channel="#rds-drills", text="report")
    assert posted["channel"] == channel_id and fake.message(channel_id, posted["ts"])["text"] == "report"
    with pytest.raises(SlackApiError) as refused:
        client(fake).chat_postMessage(channel="#no-such-channel", text="report")
    assert refused.value.response["error"] == "channel_not_found"


def test_users_info_says_which_team_a_user_belongs_to(fake: FakeSlackApi) -> None:
    """docs.slack.dev "users.info": the user object carries `team_id`; a Slack Connect guest's is their own."""
    fake.add_user("U0GUEST", "alice@example.com", team_id="T0OTHER")
    fake.add_user("U0HOME", "home@example.com")
    assert client(fake).users_info(user="U0GUEST")["user"]["team_id"] == "T0OTHER"
    assert client(fake).users_info(user="U0HOME")["user"]["team_id"] == TEAM_ID


def test_rate_limited_post_is_retried_and_arrives_once(fake: FakeSlackApi) -> None:
    # Retry-After 0 keeps the test quick: slack_sdk sleeps Retry-After plus up to a second of jitter.
    fake.fail_next("chat.postMessage", status=429, times=1, retry_after=0)
    web = client(fake, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])

    posted = web.chat_postMessage(channel="C1", text="restore started")

    assert [c.status for c in fake.calls("chat.postMessage")] == [429, 200]
    assert len(fake.delivered("chat.postMessage")) == 1
    assert fake.message("C1", posted["ts"])["text"] == "restore started"


def test_rate_limit_answer_carries_retry_after(fake: FakeSlackApi) -> None:
    fake.fail_next("chat.update", status=429, retry_after=7)

    with pytest.raises(SlackApiError) as raised:
        client(fake, retry_handlers=[]).chat_update(channel="C1", ts="1.0", text="x")

    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"


def test_server_error_is_recorded_and_surfaces_without_a_retry_handler(fake: FakeSlackApi) -> None:
    fake.fail_next("chat.postMessage", status=500)

    with pytest.raises(SlackApiError):
        client(fake).chat_postMessage(channel="C1", text="x")
    client(fake, retry_handlers=[ServerErrorRetryHandler(max_retry_count=1)]).chat_postMessage(channel="C1", text="y")

    assert [c.status for c in fake.calls("chat.postMessage")] == [500, 200]


def test_dropped_connection_is_retried_by_the_connection_error_handler(fake: FakeSlackApi) -> None:
    fake.fail_next("chat.postMessage", drop=True)
    # The default handler set has this one retry too, but waits about a second first.
    handler = ConnectionErrorRetryHandler(interval_calculator=FixedValueRetryIntervalCalculator(0))

    client(fake, retry_handlers=[handler]).chat_postMessage(channel="C1", text="after a blip")

    assert [c.status for c in fake.calls("chat.postMessage")] == [DROPPED, 200]


def test_fault_is_used_up_after_its_count(fake: FakeSlackApi) -> None:
    fake.fail_next("auth.test", status=500, times=2)
    web = client(fake, retry_handlers=[])

    outcomes = []
    for _ in range(3):
        try:
            outcomes.append(web.auth_test().status_code)
        except SlackApiError as error:
            outcomes.append(error.response.status_code)

    assert outcomes == [500, 500, 200]


def test_response_url_posts_are_recorded_per_id_and_limited_to_five(fake: FakeSlackApi) -> None:
    hook = WebhookClient(fake.response_url("cmd-1"))

    statuses = [hook.send(text=f"update {n}").status_code for n in range(6)]

    assert statuses == [200] * 5 + [404]
    assert fake.responses("cmd-1")[0].body == {"text": "update 0"}
    assert fake.responses("cmd-2") == []


def test_wait_for_sees_a_call_made_from_another_thread(fake: FakeSlackApi) -> None:
    def later() -> None:
        time.sleep(0.05)
        client(fake).chat_postMessage(channel="C1", text="done")

    threading.Thread(target=later).start()

    call = fake.wait_for("chat.postMessage", lambda c: c.body.get("text") == "done")
    assert call.status == 200


def test_wait_for_names_what_was_recorded_when_nothing_matches(fake: FakeSlackApi) -> None:
    client(fake).auth_test()

    with pytest.raises(AssertionError, match=r"recorded: auth\.test\(200\)"):
        fake.wait_for("chat.update", timeout=0.05)


def test_reset_forgets_calls_faults_and_scripted_answers(fake: FakeSlackApi) -> None:
    fake.set_response("chat.postMessage", {"ok": False, "error": "channel_not_found"})
    fake.fail_next("auth.test", status=500)
    client(fake).users_info(user="U0ALICE")

    fake.reset()

    assert fake.calls() == []
    assert client(fake).auth_test()["ok"]
    assert client(fake).chat_postMessage(channel="C1", text="x")["ok"]
    assert client(fake).users_info(user="U0ALICE")["user"]["profile"]["email"] == "alice@example.com"


def test_scripted_answer_replaces_the_default(fake: FakeSlackApi) -> None:
    fake.set_response("chat.postMessage", {"ok": False, "error": "channel_not_found"})

    with pytest.raises(SlackApiError, match="channel_not_found"):
        client(fake).chat_postMessage(channel="C0GONE", text="x")


def test_form_posted_text_in_brackets_stays_text(fake: FakeSlackApi) -> None:
    blocks = json.dumps([{"type": "divider"}])
    answer = client(fake).api_call(
        "chat.postMessage", params={"channel": "C1", "text": "[job-7] ready", "blocks": blocks}
    )

    assert answer["message"]["text"] == "[job-7] ready"
    assert answer["message"]["blocks"] == [{"type": "divider"}]
    assert fake.calls("chat.postMessage")[0].field("blocks") == [{"type": "divider"}]


# -- signed requests -------------------------------------------------------------------------------------------


def test_signed_slash_command_verifies_and_a_tampered_one_does_not() -> None:
    body, headers = slash_command("/rds-restore", "s3://backups/sales.bak db.m5.large", response_url="http://x/r/1")
    verifier = SignatureVerifier(SIGNING_SECRET)

    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid_request(body.replace(b"m5.large", b"m5.24xlarge"), headers)
    assert not SignatureVerifier("another-secret").is_valid_request(body, headers)
    stale = slash_command("/rds-restore", "help", timestamp=int(time.time()) - 600)
    assert not verifier.is_valid_request(stale.body, stale.headers)


def test_slash_command_carries_the_fields_slack_sends() -> None:
    body, _ = slash_command("/rds-restore", "help", user_id="U0BOB", channel_id="C0X", response_url="http://x/r/2")

    fields = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    assert fields["command"] == "/rds-restore"
    assert fields["text"] == "help"
    assert (fields["user_id"], fields["channel_id"], fields["team_id"]) == ("U0BOB", "C0X", TEAM_ID)
    assert fields["response_url"] == "http://x/r/2"
    assert fields["trigger_id"]


def test_interactive_payloads_are_json_in_a_payload_field() -> None:
    click = block_action("approve", "job-7", user_id="U0BOB", channel="C0X", message_ts="1700000000.000200")
    submit = view_submission("restore_form", "job-7", {"backup": {"uri": "s3://b/k.bak"}})

    action = json.loads(parse_qs(click.body.decode())["payload"][0])
    view = json.loads(parse_qs(submit.body.decode())["payload"][0])
    assert (action["actions"][0]["action_id"], action["actions"][0]["value"]) == ("approve", "job-7")
    assert action["container"]["message_ts"] == "1700000000.000200"
    assert view["view"]["private_metadata"] == "job-7"
    assert view["view"]["state"]["values"]["backup"]["uri"]["value"] == "s3://b/k.bak"
    assert SignatureVerifier(SIGNING_SECRET).is_valid_request(click.body, click.headers)


# -- a bare Bolt app behind waitress ---------------------------------------------------------------------------


@pytest.fixture
def bolt_url(fake: FakeSlackApi) -> Iterator[str]:
    app = App(signing_secret=SIGNING_SECRET, client=WebClient(token=TOKEN, base_url=fake.base_url))

    @app.command("/rds-restore")
    def restore(ack: Ack) -> None:
        ack("on it")

    @app.action("approve")
    def approve(ack: Ack, respond: Respond, body: dict[str, Any]) -> None:
        ack()
        respond(f"approved {body['actions'][0]['value']}")

    @app.view("restore_form")
    def submitted(ack: Ack) -> None:
        ack()

    with serve_wsgi(SlackRequestHandler(app)) as root:
        yield root + EVENTS_PATH


def test_bolt_app_acks_a_signed_slash_command(fake: FakeSlackApi, bolt_url: str) -> None:
    status, text = post(bolt_url, *slash_command("/rds-restore", "help", response_url=fake.response_url("c1")))

    assert (status, text) == (200, "on it")
    assert fake.delivered("auth.test")


def test_bolt_app_refuses_forged_stale_and_tampered_requests(bolt_url: str) -> None:
    forged = slash_command("/rds-restore", "help", signing_secret="not-the-secret")
    stale = slash_command("/rds-restore", "help", timestamp=int(time.time()) - 600)
    body, headers = slash_command("/rds-restore", "help")

    assert post(bolt_url, *forged)[0] == 401
    assert post(bolt_url, *stale)[0] == 401
    assert post(bolt_url, body + b"&text=drop", headers)[0] == 401


def test_button_click_is_acked_and_answered_on_its_response_url(fake: FakeSlackApi, bolt_url: str) -> None:
    click = block_action("approve", "job-7", response_url=fake.response_url("click-1"))

    assert post(bolt_url, *click)[0] == 200

    answer = fake.wait_for(RESPONSE_URL, lambda c: c.response_id == "click-1")
    assert answer.body["text"] == "approved job-7"


def test_modal_submission_is_acked(bolt_url: str) -> None:
    assert post(bolt_url, *view_submission("restore_form", "job-7", {"b": {"a": "x"}}))[0] == 200
