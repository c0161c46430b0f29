"""The tag keys and values are a contract with what earlier versions tagged and with admins' IAM user tags."""

from __future__ import annotations

from bot import tags


def test_tag_spellings_are_pinned() -> None:
    # Written out, not read from bot.tags: a renamed tag would orphan every resource tagged before.
    assert (tags.MANAGED_BY, tags.MANAGED_BY_VALUE) == ("managed-by", "rdsbot")
    assert (tags.JOB_ID, tags.REQUESTER, tags.DRILL) == ("rdsbot-job-id", "rdsbot-requester", "rdsbot-drill")
    assert (tags.SLACK_USER_ID, tags.EMAIL) == ("slack-user-id", "email")


def test_a_drill_instance_is_told_apart_by_its_tag() -> None:
    drill = tags.instance_tags("j1", "U0ALICE", is_drill=True)
    restore = tags.instance_tags("j2", "U0ALICE", is_drill=False)
    assert drill == {"rdsbot-job-id": "j1", "rdsbot-requester": "U0ALICE", "rdsbot-drill": "true"}
    assert (tags.is_drill_instance(drill), tags.is_drill_instance(restore), tags.is_drill_instance({})) == (
        True,
        False,
        False,
    )


def test_aws_tag_lists_are_in_key_order() -> None:
    assert tags.aws_tag_list({"b": "2", "a": "1"}) == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
