"""Who may approve, by IAM user tags and the admin IAM group, against a moto server over HTTP."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from aws.admin_directory import IamAdminDirectory
from aws.clients import AwsClients
from tests.support.aws_calls import CallRecorder

GROUP = "rds-admins"
TTL = 60.0


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class EmailLookup:
    """Stands in for the Slack users.info call, counting how often the directory needed it."""

    def __init__(self, email: str | None) -> None:
        self.email = email
        self.calls = 0

    def __call__(self) -> str | None:
        self.calls += 1
        return self.email


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port bound but not listening: connecting is refused at once, so a failure path runs quickly."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def directory(aws: AwsClients, clock: FakeClock) -> IamAdminDirectory:
    aws.iam.create_group(GroupName=GROUP)
    return IamAdminDirectory(aws.iam, GROUP, ttl_seconds=TTL, clock=clock)


def iam_user(aws: AwsClients, name: str, admin: bool = False, **tags: str) -> None:
    # Tag keys use '-', which a keyword argument cannot: slack_user_id= stands for the slack-user-id tag.
    aws.iam.create_user(UserName=name, Tags=[{"Key": k.replace("_", "-"), "Value": v} for k, v in tags.items()])
    if admin:
        aws.iam.add_user_to_group(GroupName=GROUP, UserName=name)


def no_email() -> EmailLookup:
    return EmailLookup(None)


def test_member_mapped_by_slack_id_tag_may_approve(aws, directory):
    iam_user(aws, "alice", admin=True, slack_user_id="U0ALICE")

    identity = directory.identify("U0ALICE", no_email())

    assert identity.is_admin
    assert identity.iam_user == "alice"
    assert identity.source == "tag slack-user-id: IAM user alice is a member of rds-admins"


def test_email_is_looked_up_only_when_no_slack_id_tag_matches(aws, directory):
    iam_user(aws, "alice", admin=True, slack_user_id="U0ALICE", email="alice@example.com")
    iam_user(aws, "bob", admin=True, email="Bob@Example.com")
    alice_lookup, bob_lookup = EmailLookup("alice@example.com"), EmailLookup(" bob@EXAMPLE.com ")

    alice = directory.identify("U0ALICE", alice_lookup)
    bob = directory.identify("U0BOB", bob_lookup)

    assert (alice.is_admin, alice.source.startswith("tag slack-user-id:"), alice_lookup.calls) == (True, True, 0)
    assert bob_lookup.calls == 1
    assert (bob.is_admin, bob.iam_user) == (True, "bob")
    assert bob.source.startswith("tag email:")


def test_non_member_cannot_approve(aws, directory):
    iam_user(aws, "carol", slack_user_id="U0CAROL")
    aws.iam.create_group(GroupName="developers")
    aws.iam.add_user_to_group(GroupName="developers", UserName="carol")

    identity = directory.identify("U0CAROL", no_email())

    assert not identity.is_admin
    assert identity.iam_user == "carol"
    assert identity.source == "tag slack-user-id: IAM user carol is not a member of rds-admins"


def test_unknown_slack_user_cannot_approve(aws, directory):
    iam_user(aws, "alice", admin=True, slack_user_id="U0ALICE", email="alice@example.com")
    lookup = EmailLookup("mallory@example.com")

    identity = directory.identify("U0MALLORY", lookup)

    assert (identity.is_admin, identity.iam_user) == (False, None)
    assert identity.source == "no IAM user is tagged slack-user-id=U0MALLORY or email=mallory@example.com"
    assert lookup.calls == 1


def test_slack_user_without_profile_email_cannot_approve(aws, directory):
    iam_user(aws, "alice", admin=True, slack_user_id="U0ALICE")

    identity = directory.identify("U0GUEST", no_email())

    assert not identity.is_admin
    assert "the Slack profile has no email" in identity.source


def test_slack_id_claimed_by_two_iam_users_is_refused(aws, directory, caplog):
    iam_user(aws, "alice", admin=True, slack_user_id="U0ALICE")
    iam_user(aws, "alice-old", slack_user_id="U0ALICE")
    lookup = EmailLookup("alice@example.com")

    with caplog.at_level(logging.WARNING, logger="aws.admin_directory"):
        identity = directory.identify("U0ALICE", lookup)

    assert (identity.is_admin, identity.iam_user) == (False, None)
    assert "slack-user-id U0ALICE is claimed by IAM users alice, alice-old" in identity.source
    assert "refusing to guess" in identity.source
    assert lookup.calls == 0  # an ambiguous tag is not papered over by the email
    assert any("alice, alice-old" in record.getMessage() for record in caplog.records)


def test_email_claimed_by_two_iam_users_is_refused(aws, directory):
    iam_user(aws, "dave", admin=True, email="dave@example.com")
    iam_user(aws, "dave-admin", admin=True, email="DAVE@example.com")

    identity = directory.identify("U0DAVE", EmailLookup("dave@example.com"))

    assert not identity.is_admin
    assert "email dave@example.com is claimed by IAM users dave, dave-admin" in identity.source


def test_email_of_an_iam_user_pinned_to_another_slack_user_is_refused(aws, directory):
    iam_user(aws, "alice", admin=True, slack_user_id="U0ALICE", email="alice@example.com")

    # A second Slack account with the same email (a recycled address, a guest) must not borrow alice's membership.
    identity = directory.identify("U0IMPOSTOR", EmailLookup("alice@example.com"))

    assert not identity.is_admin
    assert "which is tagged for U0ALICE" in identity.source


def test_second_identify_within_ttl_makes_no_iam_call(aws, directory):
    iam_user(aws, "alice", admin=True, slack_user_id="U0ALICE")
    directory.identify("U0ALICE", no_email())
    calls = CallRecorder(aws)

    identity = directory.identify("U0ALICE", no_email())

    assert identity.is_admin
    assert calls.calls == []


def test_removed_member_loses_approval_once_the_ttl_has_passed(aws, directory, clock):
    iam_user(aws, "alice", admin=True, slack_user_id="U0ALICE")
    assert directory.identify("U0ALICE", no_email()).is_admin
    aws.iam.remove_user_from_group(GroupName=GROUP, UserName="alice")
    calls = CallRecorder(aws)

    clock.now += TTL - 1
    still_cached = directory.identify("U0ALICE", no_email())
    clock.now += 1
    reread = directory.identify("U0ALICE", no_email())

    assert still_cached.is_admin  # the price of the cache: a removal takes up to one TTL to bite
    assert not reread.is_admin
    assert calls.operations == ["GetAccountAuthorizationDetails", "ListGroupsForUser"]


def test_concurrent_approvals_on_a_cold_cache_share_one_iam_read(aws, directory):
    iam_user(aws, "alice", admin=True, slack_user_id="U0ALICE")
    calls = CallRecorder(aws)
    results: list[bool] = []
    start = threading.Barrier(8)

    def approve() -> None:
        start.wait()
        results.append(directory.identify("U0ALICE", no_email()).is_admin)

    threads = [threading.Thread(target=approve) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [True] * 8
    assert calls.operations == ["GetAccountAuthorizationDetails", "ListGroupsForUser"]


def test_unreachable_iam_does_not_grant_approval(clock, closed_port):
    iam = boto3.client(
        "iam",
        endpoint_url=f"http://127.0.0.1:{closed_port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2),
    )
    directory = IamAdminDirectory(iam, GROUP, clock=clock)

    identity = directory.identify("U0ALICE", EmailLookup("alice@example.com"))

    assert (identity.is_admin, identity.iam_user) == (False, None)
    assert identity.source.startswith("could not check IAM: GetAccountAuthorizationDetails failed")


def test_iam_error_while_reading_membership_does_not_grant_approval(aws, directory):
    iam_user(aws, "alice", admin=True, slack_user_id="U0ALICE")
    iam_user(aws, "bob", slack_user_id="U0BOB")
    directory.identify("U0BOB", no_email())  # the index, with alice in it, is now cached
    aws.iam.remove_user_from_group(GroupName=GROUP, UserName="alice")
    aws.iam.delete_user(UserName="alice")

    identity = directory.identify("U0ALICE", no_email())

    assert (identity.is_admin, identity.iam_user) == (False, "alice")
    assert identity.source.startswith("could not check IAM: ListGroupsForUser failed (NoSuchEntity)")


def test_failed_iam_read_is_not_cached(aws, directory):
    iam_user(aws, "alice", admin=True, slack_user_id="U0ALICE")
    iam_user(aws, "bob", slack_user_id="U0BOB")
    directory.identify("U0BOB", no_email())
    aws.iam.remove_user_from_group(GroupName=GROUP, UserName="alice")
    aws.iam.delete_user(UserName="alice")
    assert not directory.identify("U0ALICE", no_email()).is_admin
    iam_user(aws, "alice", admin=True)  # re-created; the cached index still maps U0ALICE to the name alice

    identity = directory.identify("U0ALICE", no_email())

    assert identity.is_admin
