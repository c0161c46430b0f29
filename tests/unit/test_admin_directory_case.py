"""The admin IAM group is matched whatever its case, on a stubbed IAM client (botocore's Stubber: no moto, no
network). IAM group names are unique regardless of case, so `RDS-Admins` in the policy and `rds-admins` in IAM are
one group; a group that merely starts with the same letters is not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from aws.admin_directory import IamAdminDirectory
from tests.support.stubbed import stubbed_client

USER = {
    "UserName": "bob",
    "UserId": "AIDAEXAMPLE000000001",
    "Arn": "arn:aws:iam::123456789012:user/bob",
    "Path": "/",
    "CreateDate": "2024-11-25T09:00:00Z",
    "Tags": [{"Key": "slack-user-id", "Value": "U0BOB"}],
}


def group(name: str) -> dict[str, Any]:
    return {"GroupName": name, "GroupId": "AGPAEXAMPLE000000001", "Arn": f"arn:aws:iam::123456789012:group/{name}",
            "Path": "/", "CreateDate": "2024-11-25T09:00:00Z"}  # fmt: skip


@pytest.fixture
def iam() -> Iterator[tuple[Any, Stubber]]:
    with stubbed_client("iam") as stubbed:
        yield stubbed


def is_admin(iam: tuple[Any, Stubber], configured: str, in_iam: list[str]) -> bool:
    client, stubber = iam
    stubber.add_response("get_account_authorization_details", {"UserDetailList": [USER], "IsTruncated": False})
    stubber.add_response("list_groups_for_user", {"Groups": [group(g) for g in in_iam], "IsTruncated": False},
                         {"UserName": "bob"})  # fmt: skip
    identity = IamAdminDirectory(client, configured).identify("U0BOB", lambda: None)
    assert identity.iam_user == "bob"
    return identity.is_admin


@pytest.mark.parametrize(
    ("configured", "in_iam"),
    [("RDS-Admins", ["rds-admins"]), ("rds-admins", ["RDS-Admins"]), ("Rds-Admins", ["developers", "rDS-aDMINS"])],
)
def test_the_admin_group_matches_whatever_the_case_on_either_side(iam, configured: str, in_iam: list[str]) -> None:
    assert is_admin(iam, configured, in_iam)


@pytest.mark.parametrize("in_iam", [["rds-admins-readonly"], ["rds-admin"], ["developers"], []])
def test_a_different_group_is_not_the_admin_group(iam, in_iam: list[str]) -> None:
    assert not is_admin(iam, "RDS-Admins", in_iam)
