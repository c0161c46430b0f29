"""`--reason "..."`: quoted text in the slash command, capped, and required when the policy says so
(`approvals.require_reason`), refused before any card, AWS call or stored job, naming --reason. Drills are exempt."""

from __future__ import annotations

import pytest

from bot.errors import RequestError
from bot.parser import MAX_REASON_CHARS, parse_restore_command
from bot.policy import plan_restore
from bot.service import RestoreService
from config.policy_model import parse_policy
from tests.support.factories import BOT_NETWORK
from tests.unit.fakes import FakeAws, FakeClock
from tests.unit.memory_store import MemoryStore

BASE = {"backups": {"default_bucket": "rdsbot-backups"}, "network": BOT_NETWORK}
REQUIRING = parse_policy({**BASE, "approvals": {"require_reason": True}})
LENIENT = parse_policy(BASE)


def reason_of(text: str) -> str | None:
    return parse_restore_command(f"prod-backup.bak db.m5.large {text}").reason


def parse_error(text: str) -> RequestError:
    with pytest.raises(RequestError) as caught:
        parse_restore_command(f"prod-backup.bak db.m5.large {text}")
    return caught.value


def test_a_quoted_reason_is_one_value_and_the_other_flags_still_parse() -> None:
    request = parse_restore_command('prod-backup.bak db.m5.large --reason "INC-42: last night\'s orders" --multi-az')
    assert request.reason == "INC-42: last night's orders" and request.multi_az


def test_typographic_double_quotes_from_phones_quote_like_straight_ones() -> None:
    assert reason_of("--reason \u201cINC-42 check orders\u201d") == "INC-42 check orders"


def test_a_typographic_apostrophe_stays_an_apostrophe() -> None:
    assert reason_of("--reason \u201cit\u2019s INC-42\u201d") == "it\u2019s INC-42"


def test_whitespace_and_line_breaks_collapse_to_one_line_for_the_card() -> None:
    assert reason_of('--reason "  INC-42\n\tcheck   orders  "') == "INC-42 check orders"


def test_an_empty_reason_is_refused_naming_the_flag() -> None:
    error = parse_error('--reason "   "')
    assert (error.field, error.message) == ("reason", "--reason is empty") and "--reason" in str(error.hint)


def test_a_reason_of_the_cap_is_taken_and_one_more_character_is_refused() -> None:
    assert reason_of(f'--reason "{"x" * MAX_REASON_CHARS}"') == "x" * MAX_REASON_CHARS
    error = parse_error(f'--reason "{"x" * (MAX_REASON_CHARS + 1)}"')
    assert error.field == "reason" and error.message == f"--reason is 301 characters; at most {MAX_REASON_CHARS}"


def test_without_the_policy_key_a_request_needs_no_reason() -> None:
    assert LENIENT.approvals.require_reason is False
    assert plan_restore(parse_restore_command("prod-backup.bak db.m5.large"), LENIENT, "j1").reason is None


def test_the_policy_can_require_a_reason_and_the_refusal_names_the_flag() -> None:
    with pytest.raises(RequestError) as caught:
        plan_restore(parse_restore_command("prod-backup.bak db.m5.large"), REQUIRING, "j1")
    assert caught.value.field == "reason" and "approvals.require_reason" in caught.value.message
    assert '--reason "' in str(caught.value)


def test_a_required_reason_given_joins_the_plan() -> None:
    request = parse_restore_command('prod-backup.bak db.m5.large --reason "INC-42"')
    assert plan_restore(request, REQUIRING, "j1").reason == "INC-42"


def test_a_drill_is_the_policys_own_request_and_needs_no_reason() -> None:
    request = parse_restore_command("prod-backup.bak db.m5.large")
    assert plan_restore(request, REQUIRING, "j1", drill=True).reason is None


def test_a_missing_required_reason_changes_nothing_and_is_audited() -> None:
    aws, store, clock = FakeAws(), MemoryStore(), FakeClock()
    service = RestoreService(store.jobs, store.audit, aws.gateways, REQUIRING, clock)
    with pytest.raises(RequestError):
        service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U0REQ")
    assert aws.calls == [] and store.jobs.by_id == {}  # no AWS call, nothing stored
    [refusal] = store.events
    assert (refusal.action, refusal.detail["field"]) == ("request.refused", "reason")


def test_the_reason_is_in_the_audited_request() -> None:
    aws, store, clock = FakeAws(), MemoryStore(), FakeClock()
    service = RestoreService(store.jobs, store.audit, aws.gateways, REQUIRING, clock)
    submitted = service.submit(parse_restore_command('prod-backup.bak db.m5.large --reason "INC-42"'), "U0REQ")
    [requested] = store.events
    assert requested.detail["plan"]["reason"] == "INC-42" and submitted.job.plan.reason == "INC-42"
