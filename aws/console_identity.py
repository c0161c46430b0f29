"""Who is at the console on real AWS: the IAM user behind the process's credentials (sts:GetCallerIdentity), and the
Slack user that IAM user is tagged with (`slack-user-id`), so the console's approvals are that person's, and the
trail names them. Anything else (a role session, a user with no tag) cannot start the console: no guessing."""

from __future__ import annotations

from typing import Any, Protocol

from aws.errors import aws_call
from bot.errors import ConfigError
from bot.tags import SLACK_USER_ID


class SlackMapping(Protocol):
    def slack_mapping(self) -> dict[str, str]: ...


def console_identity(sts: Any, directory: SlackMapping) -> tuple[str, str]:
    """(IAM user name, Slack user id) of the credentials this process runs with; ConfigError when there is none."""
    with aws_call("GetCallerIdentity"):
        arn = str(sts.get_caller_identity()["Arn"])
    resource = arn.split(":", 5)[-1]  # "user/path/alice", "assumed-role/role/session", "root"
    if not resource.startswith("user/"):
        raise ConfigError(
            f"the console on real AWS acts as the IAM user behind your credentials, and {arn} is not an IAM user; "
            f"hint: use the credentials of your own IAM user, tagged {SLACK_USER_ID}=<your Slack member id>"
        )
    iam_user = resource.rsplit("/", 1)[-1]
    mapped = directory.slack_mapping().get(iam_user, "")
    tag, _, slack_id = mapped.partition(" ")
    if tag != SLACK_USER_ID or not slack_id:
        raise ConfigError(
            f"IAM user {iam_user} has no {SLACK_USER_ID} tag, so the console cannot tell which Slack user you are; "
            f"hint: aws iam tag-user --user-name {iam_user} --tags Key={SLACK_USER_ID},Value=<your Slack member id>"
        )
    return iam_user, slack_id
