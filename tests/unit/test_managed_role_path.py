"""Which option-group roles are rdsbot's own (it extends them) and which it only checks: exactly those its IAM policy
lets it change (bot/role_needs.managed_role_arn_patterns): `rdsbot-` roles right under the configured roles.path (not
under the default /rdsbot/ when the policy names another), and the rdsbot-native-restore roles older versions made at
the root path, which aws/iam.py still finds by name and restores still run as."""

from __future__ import annotations

import pytest

from bot.domain import JobStatus
from bot.role_needs import managed_role
from bot.service import RestoreService
from bot.workflow import Engine
from config.policy_model import parse_policy
from tests.support.factories import BOT_NETWORK
from tests.unit.fakes import FakeAws, FakeClock, RecordingNotifier
from tests.unit.memory_store import MemoryStore
from tests.unit.test_backup_rules import COPY, GROUP, source, submit

PLATFORM = "/platform/rdsbot/"
UNDER_PLATFORM = "arn:aws:iam::123456789012:role/platform/rdsbot/rdsbot-native-restore"
UNDER_DEFAULT = "arn:aws:iam::123456789012:role/rdsbot/rdsbot-native-restore"
LEGACY_ROOT = "arn:aws:iam::123456789012:role/rdsbot-native-restore"


def policy(roles_path: str | None):
    return parse_policy(
        {
            "backups": {"default_bucket": "rdsbot-backups", "allowed_destinations": ["s3://rdsbot-backups/copies/*"]},
            "network": BOT_NETWORK,
            **({"roles": {"path": roles_path}} if roles_path else {}),
        }
    )


@pytest.mark.parametrize(
    ("role", "path", "ours"),
    [
        (UNDER_DEFAULT, "/rdsbot/", True),
        (UNDER_PLATFORM, PLATFORM, True),
        (UNDER_DEFAULT, PLATFORM, False),  # rdsbot's default path, but not where this policy has it make roles
        (UNDER_PLATFORM, "/rdsbot/", False),
        ("arn:aws:iam::123456789012:role/platform/rdsbot/team-backups", PLATFORM, False),  # not a name rdsbot gives
        # Made at the root before roles.path existed: aws/iam.py still finds it by name and restores run as it.
        (LEGACY_ROOT, "/rdsbot/", True),
        (LEGACY_ROOT, PLATFORM, True),
        (LEGACY_ROOT, "/", True),
        (f"{LEGACY_ROOT}-k0123abcd-tde", "/rdsbot/", True),
        ("arn:aws:iam::123456789012:role/rdsbot-sqlserver-audit", "/rdsbot/", False),  # only restore roles at the root
        ("arn:aws:iam::123456789012:role/team-x/rdsbot-native-restore", "/rdsbot/", False),  # another team's path
        ("arn:aws:iam::123456789012:role/rdsbotx/rdsbot-native-restore", "/rdsbot/", False),  # a prefix is no path
        ("arn:aws:iam::123456789012:role/rdsbot/team/rdsbot-native-restore", "/rdsbot/", False),  # below it, not in it
    ],
)
def test_a_role_is_rdsbots_only_where_its_iam_policy_lets_it_change_roles(role, path, ours):
    assert managed_role(role, path) is ours


def backup_with_role(role: str, roles_path: str | None):
    aws, store, clock = FakeAws(), MemoryStore(), FakeClock()
    aws.option_groups[GROUP] = {"SQLSERVER_BACKUP_RESTORE"}
    aws.backup_roles[GROUP] = role
    source(aws)
    the_policy = policy(roles_path)
    job = submit(RestoreService(store.jobs, store.audit, aws.gateways, the_policy, clock), f"rdsbot-first Prod {COPY}")
    store.jobs.transition(job.id, JobStatus.AWAITING_APPROVAL, JobStatus.QUEUED, [])
    Engine(store.jobs, aws.gateways, the_policy, RecordingNotifier(), clock, poll_seconds=5).run_until_idle(600)
    done = store.jobs.get_job(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED
    return aws


def test_a_backup_extends_a_role_under_the_configured_path_without_asking_iam():
    aws = backup_with_role(UNDER_PLATFORM, PLATFORM)
    assert [role for role, _ in aws.grants] == [UNDER_PLATFORM]
    assert "missing_permissions" not in aws.calls


def test_a_backup_only_checks_a_role_under_the_default_path_when_the_policy_names_another():
    aws = backup_with_role(UNDER_DEFAULT, PLATFORM)
    assert aws.grants == []  # never changed: rdsbot's IAM policy would not let it, and the role is not its own
    assert [role for role, _ in aws.asked_of_roles] == [UNDER_DEFAULT, UNDER_DEFAULT]  # at request and at validate


def test_a_backup_extends_the_root_role_older_versions_made_instead_of_refusing_it():
    """Before, /rds-backup asked IAM about it as if it were a team's role, and refused it for lacking s3:PutObject."""
    aws = backup_with_role(LEGACY_ROOT, None)
    assert [role for role, _ in aws.grants] == [LEGACY_ROOT]
    assert "missing_permissions" not in aws.calls
