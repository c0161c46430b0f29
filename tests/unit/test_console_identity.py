"""On real AWS the console is who the credentials say: the IAM user's slack-user-id tag, no switching identity."""

from __future__ import annotations

import pytest

from aws.console_identity import console_identity
from bot.entrypoints.shell import ConsoleSession, ConsoleUser
from bot.errors import ConfigError


class Sts:
    def __init__(self, arn: str) -> None:
        self.arn = arn

    def get_caller_identity(self):
        return {"Arn": self.arn, "Account": "111122223333", "UserId": "AIDA..."}


class Directory:
    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = mapping

    def slack_mapping(self) -> dict[str, str]:
        return self.mapping


def test_the_console_is_the_slack_user_the_callers_iam_user_is_tagged_with():
    sts = Sts("arn:aws:iam::111122223333:user/ops/dana")
    assert console_identity(sts, Directory({"dana": "slack-user-id U0DANA", "bob": "slack-user-id U0BOB"})) == (
        "dana",
        "U0DANA",
    )


@pytest.mark.parametrize(
    ("arn", "mapping", "says"),
    [
        ("arn:aws:sts::111122223333:assumed-role/rdsbot/i-0abc", {}, "is not an IAM user"),
        ("arn:aws:iam::111122223333:root", {}, "is not an IAM user"),
        ("arn:aws:iam::111122223333:user/dana", {}, "has no slack-user-id tag"),
        # An email tag maps Slack to IAM for approvals, but the console has no Slack profile to match it against.
        ("arn:aws:iam::111122223333:user/dana", {"dana": "email dana@example.com"}, "has no slack-user-id tag"),
    ],
)
def test_credentials_that_name_no_slack_user_cannot_start_the_console(arn, mapping, says):
    with pytest.raises(ConfigError) as refused:
        console_identity(Sts(arn), Directory(mapping))
    assert says in str(refused.value) and "hint:" in str(refused.value)


def test_as_is_refused_when_the_console_may_not_switch_identity():
    said: list[str] = []
    dana = ConsoleUser("dana", "U0DANA")
    session = ConsoleSession(commands=None, users={"dana": dana}, write=said.append, current=dana, may_switch=False)  # type: ignore[arg-type]
    session.handle("as U0BOB")
    assert session.current is dana and "`as` is for the sandbox" in said[-1]
    sandbox = ConsoleSession(commands=None, users={"dana": dana}, write=said.append, current=dana)  # type: ignore[arg-type]
    sandbox.handle("as U0BOB")
    assert sandbox.current.slack_id == "U0BOB"
