"""Who may approve, by membership of a Slack user group: handle resolution, membership, caching, failures."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.slack_directory import SlackUsergroupDirectory

TTL = 60.0
GROUPS = [
    {"id": "S0DEVS", "handle": "developers", "name": "Developers"},
    {"id": "S0ADMINS", "handle": "rds-admins", "name": "RDS admins"},
]


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeWebClient:
    """The two usergroups methods over a dict of group id -> members, recording (method, arguments)."""

    def __init__(self, members: dict[str, list[str]]) -> None:
        self.members = members
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_with: Exception | None = None

    def usergroups_list(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("usergroups.list", kwargs))
        if self.fail_with:
            raise self.fail_with
        return {"ok": True, "usergroups": GROUPS}

    def usergroups_users_list(self, *, usergroup: str, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("usergroups.users.list", {"usergroup": usergroup, **kwargs}))
        if self.fail_with:
            raise self.fail_with
        return {"ok": True, "users": list(self.members[usergroup])}

    @property
    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]


def never_called() -> str | None:
    raise AssertionError("a Slack user group needs no email")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def slack() -> FakeWebClient:
    return FakeWebClient({"S0ADMINS": ["U0ALICE", "U0BOB"], "S0DEVS": ["U0CAROL"]})


@pytest.fixture
def directory(slack: FakeWebClient, clock: FakeClock) -> SlackUsergroupDirectory:
    return SlackUsergroupDirectory(slack, "rds-admins", ttl_seconds=TTL, clock=clock)


def test_member_of_the_usergroup_may_approve(directory, slack):
    identity = directory.identify("U0ALICE", never_called)

    assert identity.is_admin
    assert identity.iam_user is None
    assert identity.source == "slack usergroup rds-admins"
    assert slack.calls == [("usergroups.list", {}), ("usergroups.users.list", {"usergroup": "S0ADMINS"})]


def test_member_of_another_usergroup_cannot_approve(directory):
    identity = directory.identify("U0CAROL", never_called)

    assert not identity.is_admin
    assert identity.source == "slack usergroup rds-admins"


def test_handle_may_be_written_as_a_mention_in_any_case(slack, clock):
    directory = SlackUsergroupDirectory(slack, "@RDS-Admins", clock=clock)

    assert directory.identify("U0BOB", never_called).is_admin
    assert directory.label == "slack usergroup RDS-Admins"


def test_usergroup_id_is_used_as_is_without_listing_groups(slack, clock):
    directory = SlackUsergroupDirectory(slack, "S0ADMINS", clock=clock)

    identity = directory.identify("U0ALICE", never_called)

    assert identity.is_admin
    assert identity.source == "slack usergroup S0ADMINS"
    assert slack.methods == ["usergroups.users.list"]


def test_unknown_handle_refuses_everyone_and_says_why(slack, clock):
    directory = SlackUsergroupDirectory(slack, "rds-admin", clock=clock)

    identity = directory.identify("U0ALICE", never_called)

    assert not identity.is_admin
    assert identity.source == (
        "could not check slack usergroup rds-admin: no enabled Slack user group has the handle @rds-admin"
    )


def test_second_identify_within_ttl_makes_no_slack_call(directory, slack, clock):
    directory.identify("U0ALICE", never_called)
    slack.calls.clear()

    clock.now += TTL - 1
    bob = directory.identify("U0BOB", never_called)

    assert bob.is_admin
    assert slack.calls == []


def test_removed_member_loses_approval_once_the_ttl_has_passed(directory, slack, clock):
    assert directory.identify("U0ALICE", never_called).is_admin
    slack.members["S0ADMINS"].remove("U0ALICE")
    slack.calls.clear()

    clock.now += TTL
    identity = directory.identify("U0ALICE", never_called)

    assert not identity.is_admin
    assert slack.methods == ["usergroups.list", "usergroups.users.list"]


def test_slack_failure_refuses_and_is_not_cached(directory, slack):
    slack.fail_with = SlackApiError("ratelimited", {"ok": False, "error": "ratelimited"})

    refused = directory.identify("U0ALICE", never_called)
    slack.fail_with = None
    retried = directory.identify("U0ALICE", never_called)

    assert not refused.is_admin
    assert refused.source == "could not check slack usergroup rds-admins: Slack answered ratelimited"
    assert retried.is_admin


def test_concurrent_approvals_on_a_cold_cache_share_one_read(directory, slack):
    results: list[bool] = []
    start = threading.Barrier(8)

    def approve() -> None:
        start.wait()
        results.append(directory.identify("U0ALICE", never_called).is_admin)

    threads = [threading.Thread(target=approve) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [True] * 8
    assert slack.methods == ["usergroups.list", "usergroups.users.list"]


# The real slack_sdk WebClient against a local stub of the Web API: the method names, parameters and error
# handling the fake above assumes are the ones Slack's client actually uses.


class StubWebApi:
    """A local Slack Web API answering usergroups.* from canned JSON, recording (method, query) per request."""

    def __init__(self, answers: dict[str, dict[str, Any]]) -> None:
        self.answers = answers
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            # slack_sdk sends every method as a POST form, whatever the method's documented verb.
            def do_POST(self) -> None:
                url = urlsplit(self.path)
                method = url.path.removeprefix("/api/")
                length = int(self.headers.get("Content-Length") or 0)
                params = {**parse_qs(url.query), **parse_qs(self.rfile.read(length).decode())}
                stub.requests.append((method, params))
                body = json.dumps(stub.answers.get(method, {"ok": False, "error": "unknown_method"})).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output to the test's own

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def web_api() -> Iterator[StubWebApi]:
    stub = StubWebApi(
        {
            "usergroups.list": {"ok": True, "usergroups": GROUPS},
            "usergroups.users.list": {"ok": True, "users": ["U0ALICE", "U0BOB"]},
        }
    )
    yield stub
    stub.close()


def test_real_web_client_resolves_the_handle_and_lists_members(web_api, clock):
    client = WebClient(token="xoxb-test", base_url=web_api.url)
    directory = SlackUsergroupDirectory(client, "rds-admins", clock=clock)

    alice = directory.identify("U0ALICE", never_called)
    mallory = directory.identify("U0MALLORY", never_called)

    assert (alice.is_admin, mallory.is_admin) == (True, False)
    assert web_api.requests == [("usergroups.list", {}), ("usergroups.users.list", {"usergroup": ["S0ADMINS"]})]


def test_real_web_client_error_answer_refuses_with_slacks_reason(web_api, clock):
    web_api.answers["usergroups.list"] = {"ok": False, "error": "missing_scope", "needed": "usergroups:read"}
    client = WebClient(token="xoxb-test", base_url=web_api.url)
    directory = SlackUsergroupDirectory(client, "rds-admins", clock=clock)

    identity = directory.identify("U0ALICE", never_called)

    assert not identity.is_admin
    assert identity.source == "could not check slack usergroup rds-admins: Slack answered missing_scope"
