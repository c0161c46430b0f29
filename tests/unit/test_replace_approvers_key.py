"""approvals.replace_approvers, the key the issue names, and targets.replace_approvers, its deprecated name:
still read, warned by the doctor, and an error when both are given and disagree."""

import pytest

from bot.doctor import Status, policy_consistency
from bot.errors import ConfigError
from config.policy_model import EXAMPLE_POLICY, load_policy, parse_policy

BASE = {"backups": {"default_bucket": "rdsbot-backups"}}


def test_approvals_replace_approvers_is_read_and_defaults_to_one():
    assert parse_policy(BASE).approvals.replace_approvers == 1
    assert parse_policy({**BASE, "approvals": {"replace_approvers": 2}}).approvals.replace_approvers == 2


def test_the_shipped_example_documents_the_key_under_approvals():
    text = EXAMPLE_POLICY.read_text()
    approvals = text.split("\napprovals:", 1)[1].split("\n\n", 1)[0]
    assert "replace_approvers:" in approvals
    assert load_policy(None).targets.replace_approvers is None  # the example does not use the old name


def test_the_deprecated_targets_key_is_read_as_the_approvals_key():
    policy = parse_policy({**BASE, "targets": {"replace_approvers": 2}})
    assert policy.approvals.replace_approvers == 2


def test_both_keys_with_different_values_is_a_config_error_naming_both():
    with pytest.raises(ConfigError) as caught:
        parse_policy({**BASE, "targets": {"replace_approvers": 2}, "approvals": {"replace_approvers": 1}})
    assert "approvals.replace_approvers" in str(caught.value) and "targets.replace_approvers" in str(caught.value)


def test_both_keys_with_the_same_value_is_accepted():
    policy = parse_policy({**BASE, "targets": {"replace_approvers": 2}, "approvals": {"replace_approvers": 2}})
    assert policy.approvals.replace_approvers == 2


@pytest.mark.parametrize("where", ["approvals", "targets"])
def test_three_approvers_is_refused_under_either_name(where):
    with pytest.raises(ConfigError, match="replace_approvers"):
        parse_policy({**BASE, where: {"replace_approvers": 3}})


def test_the_doctor_warns_about_the_deprecated_key_with_the_rename():
    results = policy_consistency(parse_policy({**BASE, "targets": {"replace_approvers": 2}}))
    warned = [r for r in results if r.status == Status.WARN and r.subject == "targets.replace_approvers"]
    assert len(warned) == 1 and "approvals.replace_approvers" in (warned[0].fix or "")


def test_the_doctor_is_quiet_about_the_new_key():
    results = policy_consistency(parse_policy({**BASE, "approvals": {"replace_approvers": 2}}))
    assert not [r for r in results if "replace_approvers" in r.subject]
