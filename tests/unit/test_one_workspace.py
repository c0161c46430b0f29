"""One workspace: requests from another team (or Grid org) are not served, and the profile-email fallback maps only
users of the bot's own team (users.info answers each user's `team_id`, and for Grid `enterprise_user`)."""

from __future__ import annotations

from typing import Any

from bot.workspace import Workspace
from handlers.slack_directory import email_lookup
from handlers.workspace import OwnWorkspace

HOME, OTHER, ORG = "T0RDSBOT", "T0OTHER", "E0ACME"


def test_a_single_team_install_serves_only_its_team() -> None:
    own = Workspace(team_id=HOME)
    assert own.admits(HOME, None)
    assert not own.admits(OTHER, None) and not own.admits(None, None)
    assert not own.admits(OTHER, ORG)  # an org id does not widen a single-team install


def test_a_grid_install_serves_every_team_of_its_org_and_nothing_else() -> None:
    own = Workspace(team_id=HOME, enterprise_id=ORG)
    assert own.admits(OTHER, ORG) and own.admits(None, ORG)
    assert not own.admits(HOME, None) and not own.admits(HOME, "E0OTHER")


def test_the_refusal_names_both_workspaces_and_says_nothing_was_done() -> None:
    text = Workspace(team_id=HOME).refusal("T0<!here>", None)
    assert text.startswith(
        "This rdsbot serves only the Slack workspace T0RDSBOT; this request came from T0&lt;!here&gt;"
    )
    assert "Nothing was done" in text
    grid = Workspace(team_id=HOME, enterprise_id=ORG).refusal(OTHER, None)
    assert "Enterprise Grid org E0ACME" in grid and "outside any org" in grid


class FakeUsers:
    """users.info and auth.test as slack_sdk's WebClient answers them; counts auth.test calls."""

    def __init__(self, users: dict[str, dict[str, Any]]) -> None:
        self.users = users
        self.auth_tests = 0

    def auth_test(self) -> dict[str, Any]:
        self.auth_tests += 1
        return {"ok": True, "team_id": HOME, "user_id": "U0RDSBOT"}

    def users_info(self, *, user: str) -> dict[str, Any]:
        return {"ok": True, "user": self.users[user]}


def user(team_id: str, email: str, enterprise_id: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"team_id": team_id, "profile": {"email": email}}
    if enterprise_id:
        found["enterprise_user"] = {"enterprise_id": enterprise_id, "teams": [team_id]}
    return found


def test_the_email_of_a_user_of_this_team_is_used() -> None:
    client = FakeUsers({"U0ALICE": user(HOME, "alice@example.com")})
    assert email_lookup(client, "U0ALICE", OwnWorkspace(client))() == "alice@example.com"


def test_the_email_of_a_user_of_another_team_is_never_used() -> None:
    # A Slack Connect guest who put the admin's address on their own profile.
    client = FakeUsers({"U0GUEST": user(OTHER, "alice@example.com")})
    assert email_lookup(client, "U0GUEST", OwnWorkspace(client))() is None


def test_on_grid_the_org_decides_whose_email_counts() -> None:
    client = FakeUsers({"U0ORG": user(OTHER, "bob@example.com", ORG), "U0OUT": user(HOME, "eve@example.com", "E0ELSE")})
    own = OwnWorkspace(client, enterprise_id=ORG)
    assert email_lookup(client, "U0ORG", own)() == "bob@example.com"
    assert email_lookup(client, "U0OUT", own)() is None


def test_auth_test_is_asked_once_not_per_request() -> None:
    client = FakeUsers({"U0ALICE": user(HOME, "alice@example.com")})
    own = OwnWorkspace(client)
    assert [own.current(), own.current()] == [Workspace(HOME), Workspace(HOME)] and client.auth_tests == 1
