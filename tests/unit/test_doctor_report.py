"""rdsbot doctor's pure core: statuses, the text and JSON report, exit codes, the policy-only checks, and who may
run it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from aws.readiness.identity import role_arn_of
from bot.authz import Authorizer
from bot.doctor import (
    CheckResult,
    DoctorCommand,
    Report,
    Status,
    cidr_widths,
    fail,
    ok,
    policy_consistency,
    run_checks,
    scope_coverage,
    warn,
)
from bot.ports import Identity
from config.policy_model import parse_policy

POLICY = {"backups": {"default_bucket": "rdsbot-backups"}}


class _Directory:
    def __init__(self, admins: set[str]) -> None:
        self.admins = admins

    def identify(self, slack_user_id: str, email_lookup: Callable[[], str | None]) -> Identity:
        return Identity(slack_user_id=slack_user_id, is_admin=slack_user_id in self.admins, source="test")


def test_a_report_with_a_fail_exits_1_and_with_only_warnings_exits_0():
    warned = Report((ok("a", "x", "s"), warn("a", "y", "s", "could not look")))
    failed = Report((*warned.results, fail("buckets", "audit bucket", "s3://b", "does not exist", "create it")))
    assert warned.exit_code == 0
    assert failed.exit_code == 1
    assert [r.check for r in failed.failed] == ["audit bucket"]


def test_the_text_report_names_status_subject_and_the_fix_of_a_fail():
    report = Report(
        (
            ok("identity", "AWS credentials", "arn:aws:iam::1:role/rdsbot", "account 1"),
            fail("buckets", "audit bucket", "s3://rdsbot-audit", "does not exist", "aws s3api create-bucket ..."),
        )
    )
    assert report.text() == (
        "ok    identity  AWS credentials: arn:aws:iam::1:role/rdsbot: account 1\n"
        "FAIL  buckets   audit bucket: s3://rdsbot-audit: does not exist\n"
        "                fix: aws s3api create-bucket ...\n"
        "1 ok, 0 warn, 1 FAIL"
    )


def test_the_json_report_is_a_list_of_flat_objects():
    report = Report((fail("approvers", "admin group", "IAM group rds-admins", "has no members", "add one"),))
    assert report.as_json() == [
        {
            "area": "approvers",
            "check": "admin group",
            "status": "FAIL",
            "subject": "IAM group rds-admins",
            "detail": "has no members",
            "fix": "add one",
        }
    ]


def test_a_check_that_raises_is_a_fail_and_the_others_still_run():
    def broken() -> list[CheckResult]:
        raise RuntimeError("endpoint unreachable")

    report = run_checks([("rds", broken), ("kms", lambda: [ok("kms", "keys", "policy")])])
    assert [r.status for r in report.results] == [Status.FAIL, Status.OK]
    assert "endpoint unreachable" in report.results[0].detail


def test_missing_scopes_are_each_named_in_the_fail():
    result = scope_coverage({"commands", "users:read"}, ["commands", "chat:write", "users:read", "files:write"], "T")
    assert result.status == Status.FAIL
    assert result.detail == "missing chat:write, files:write"
    assert scope_coverage({"commands", "extra"}, ["commands"], "T").status == Status.OK


def test_a_client_cidr_wider_than_the_policy_minimum_is_a_warning_when_allowed_and_a_site_network_passes():
    # The policy refuses 10.0.0.0/8 outright unless allow_wide_cidrs is set (config/policy_model.py); the doctor
    # still names it, as a warning, since it was meant.
    wide = parse_policy(
        {**POLICY, "network": {"allowed_cidrs": ["10.0.0.0/8", "10.1.2.0/24"], "allow_wide_cidrs": True}}
    )
    results = cidr_widths(wide)
    assert [(r.subject, r.status) for r in results] == [("10.0.0.0/8", Status.WARN)]
    narrow = parse_policy({**POLICY, "network": {"allowed_cidrs": ["10.0.0.0/16"]}})
    assert [r.status for r in cidr_widths(narrow)] == [Status.OK]
    stricter = parse_policy(
        {**POLICY, "network": {"allowed_cidrs": ["10.0.0.0/16"], "min_prefix_v4": 20, "allow_wide_cidrs": True}}
    )
    assert [(r.status, r.detail.split(":")[0]) for r in cidr_widths(stricter)] == [(Status.WARN, "wider than /20")]


def test_an_audit_bucket_that_is_also_a_backup_bucket_is_a_warning():
    shared = parse_policy({**POLICY, "audit": {"bucket": "rdsbot-backups"}})
    assert any(r.status == Status.WARN and r.check == "audit bucket" for r in policy_consistency(shared))
    apart = parse_policy({**POLICY, "audit": {"bucket": "rdsbot-audit"}})
    assert all(r.status == Status.OK for r in policy_consistency(apart))


@pytest.mark.parametrize(
    ("caller", "principal"),
    [
        ("arn:aws:sts::111122223333:assumed-role/rdsbot-role/i-0abc", "arn:aws:iam::111122223333:role/rdsbot-role"),
        ("arn:aws-us-gov:sts::111122223333:assumed-role/r/s", "arn:aws-us-gov:iam::111122223333:role/r"),
        ("arn:aws:iam::111122223333:user/ops/rdsbot", "arn:aws:iam::111122223333:user/ops/rdsbot"),
        ("arn:aws:iam::111122223333:root", None),
    ],
)
def test_an_assumed_role_session_is_simulated_as_its_role(caller: str, principal: str | None):
    assert role_arn_of(caller) == principal


def test_only_admins_may_run_the_doctor():
    ran: list[str] = []

    def run() -> Report:
        ran.append("ran")
        return Report((ok("settings", "policy", "p"),))

    doctor = DoctorCommand(Authorizer(_Directory({"U0ADMIN"}), parse_policy(POLICY)), run)
    refused = doctor.answer("U0OTHER", lambda: None)
    assert refused.startswith("Refused: only members of rds-admins may run doctor")
    assert ran == []
    assert doctor.answer("U0ADMIN", lambda: None).endswith("1 ok, 0 warn, 0 FAIL")
    assert ran == ["ran"]
