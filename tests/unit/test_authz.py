"""The Authorizer alone, one rule per test, on a directory that is a dict: who may approve, deny, cancel and run
a drill, and the two-person rule on and off. Each case picks people so only the rule under test decides."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.authz import Action, Authorizer, Forbidden
from bot.domain import Job, JobStatus
from bot.ports import Identity
from config.policy_model import Policy, parse_policy
from tests.support.factories import make_plan
from tests.unit.test_decisions import ADMIN, ADMINS, REQUESTER, STRANGER, FakeDirectory, no_email

ADMIN_REQUESTER = "U0REQADMIN"  # an admin who asked for the restore


def policy(two_person_rule: bool = True, usergroup: str | None = None) -> Policy:
    return parse_policy(
        {
            "backups": {"default_bucket": "rdsbot-backups"},
            "approvals": {"two_person_rule": two_person_rule, "admin_slack_usergroup": usergroup},
        }
    )


def job_of(requester: str) -> Job:
    created = datetime(2024, 11, 25, 9, 0, tzinfo=UTC)
    return Job(id="j1", requester=requester, plan=make_plan(), status=JobStatus.AWAITING_APPROVAL, created_at=created)


def check(action: Action, actor: str, requester: str = REQUESTER, rule: bool = True, usergroup: str | None = None):
    return Authorizer(FakeDirectory(ADMINS), policy(rule, usergroup)).check(action, actor, no_email, job_of(requester))


def refusal(action: Action, actor: str, requester: str = REQUESTER, rule: bool = True) -> str:
    with pytest.raises(Forbidden) as caught:
        check(action, actor, requester, rule)
    assert caught.value.identity.slack_user_id == actor
    return caught.value.reason


def test_two_person_rule_on_refuses_an_admin_approving_their_own_request() -> None:
    assert refusal(Action.APPROVE, ADMIN_REQUESTER, requester=ADMIN_REQUESTER) == (
        "you requested this restore; another admin must approve it (two-person rule)"
    )


def test_two_person_rule_off_lets_an_admin_approve_their_own_request() -> None:
    identity = check(Action.APPROVE, ADMIN_REQUESTER, requester=ADMIN_REQUESTER, rule=False)
    assert identity.is_admin and identity.iam_user == "reqadmin"


def test_two_person_rule_off_still_needs_an_admin() -> None:
    assert refusal(Action.APPROVE, REQUESTER, requester=REQUESTER, rule=False) == (
        "only members of rds-admins may approve (fake)"
    )


def test_another_admin_approves_under_the_two_person_rule() -> None:
    assert check(Action.APPROVE, ADMIN, requester=ADMIN_REQUESTER).iam_user == "admin"


@pytest.mark.parametrize("action", [Action.APPROVE, Action.DENY])
def test_a_non_admin_may_neither_approve_nor_deny(action: Action) -> None:
    assert refusal(action, STRANGER) == f"only members of rds-admins may {action.value} (fake)"


def test_the_requester_who_is_not_an_admin_may_cancel() -> None:
    identity = check(Action.CANCEL, REQUESTER, requester=REQUESTER)
    assert identity.slack_user_id == REQUESTER and not identity.is_admin


def test_an_admin_who_is_not_the_requester_may_cancel() -> None:
    assert check(Action.CANCEL, ADMIN, requester=REQUESTER).is_admin


def test_someone_who_is_neither_requester_nor_admin_may_not_cancel() -> None:
    assert refusal(Action.CANCEL, STRANGER, requester=REQUESTER) == (
        "only the requester or members of rds-admins may cancel (fake)"
    )


def test_being_the_requester_of_another_job_gives_no_right_to_cancel_this_one() -> None:
    assert "may cancel" in refusal(Action.CANCEL, REQUESTER, requester="U0SOMEONEELSE")


@pytest.mark.parametrize("action", [Action.KEEP_INSTANCE, Action.DELETE_INSTANCE])
def test_the_requester_who_is_not_an_admin_may_keep_or_delete_their_instance(action: Action) -> None:
    identity = check(action, REQUESTER, requester=REQUESTER)
    assert identity.slack_user_id == REQUESTER and not identity.is_admin


@pytest.mark.parametrize("action", [Action.KEEP_INSTANCE, Action.DELETE_INSTANCE])
def test_an_admin_who_is_not_the_requester_may_keep_or_delete_the_instance(action: Action) -> None:
    assert check(action, ADMIN, requester=REQUESTER).is_admin


def test_someone_who_is_neither_requester_nor_admin_may_not_keep_or_delete_the_instance() -> None:
    assert refusal(Action.KEEP_INSTANCE, STRANGER, requester=REQUESTER) == (
        "only the requester or members of rds-admins may keep instance (fake)"
    )
    assert refusal(Action.DELETE_INSTANCE, STRANGER, requester=REQUESTER) == (
        "only the requester or members of rds-admins may delete instance (fake)"
    )


def test_only_admins_may_run_a_drill_and_the_refusal_reads_as_words() -> None:
    authorizer = Authorizer(FakeDirectory(ADMINS), policy())
    assert authorizer.check(Action.RUN_DRILL, ADMIN, no_email).is_admin
    with pytest.raises(Forbidden) as caught:
        authorizer.check(Action.RUN_DRILL, STRANGER, no_email)
    assert caught.value.reason == "only members of rds-admins may run drill (fake)"


def test_a_refusal_names_the_slack_usergroup_when_the_policy_uses_one() -> None:
    with pytest.raises(Forbidden) as caught:
        check(Action.CANCEL, STRANGER, usergroup="S0DBAS")
    assert caught.value.reason == "only the requester or members of S0DBAS may cancel (fake)"


class ReasonlessDirectory(FakeDirectory):
    """A directory that answers without saying how it decided."""

    def identify(self, slack_user_id: str, email_lookup: Callable[[], str | None]) -> Identity:
        return super().identify(slack_user_id, email_lookup).model_copy(update={"source": ""})


def test_a_refusal_without_a_directory_reason_has_no_empty_brackets() -> None:
    with pytest.raises(Forbidden) as caught:
        Authorizer(ReasonlessDirectory(ADMINS), policy()).check(Action.APPROVE, STRANGER, no_email, job_of(REQUESTER))
    assert caught.value.reason == "only members of rds-admins may approve"


def test_anyone_may_request_and_the_directory_is_not_asked() -> None:
    directory = FakeDirectory(ADMINS)
    identity = Authorizer(directory, policy()).check(Action.REQUEST, STRANGER, no_email)
    assert (identity.slack_user_id, identity.source, identity.is_admin) == (STRANGER, "anyone may request", False)
    assert directory.lookups == 0
