"""A new instance runs the exact engine version the approver saw: the newest version of the plan's major that the
region offers for the class (DescribeOrderableDBInstanceOptions), resolved before the card and sent as EngineVersion,
so it matches the option group rdsbot makes for that major (AWS guide "USER_WorkingWithOptionGroups"; API reference
"API_CreateDBInstance": without EngineVersion RDS runs the engine's default, maybe another major)."""

from __future__ import annotations

import pytest

from bot import card_facts
from bot.engine_versions import newest_of_major, version_key
from bot.errors import RequestError
from bot.parser import parse_restore_command
from bot.service import RestoreService, Submitted
from bot.workflow import Engine
from config.policy_model import Policy, parse_policy
from tests.support.factories import BOT_NETWORK
from tests.unit.fakes import FakeAws, FakeClock, RecordingNotifier
from tests.unit.memory_store import MemoryStore

POLICY = parse_policy(
    {"backups": {"default_bucket": "rdsbot-backups"}, "audit": {"bucket": "rdsbot-audit"}, "network": BOT_NETWORK}
)
# String order would pick 15.00.4415 over 15.00.10000 and 9.00 over 16.00.
OFFERED = {"14.00.3465.1.v1", "15.00.4415.2.v1", "15.00.10000.1.v1", "15.00.4430.1.v2", "16.00.4140.3.v1"}


def submit(aws: FakeAws, text: str, policy: Policy = POLICY) -> tuple[Submitted, MemoryStore]:
    store = MemoryStore()
    service = RestoreService(store.jobs, store.audit, aws.gateways, policy, FakeClock())
    return service.submit(parse_restore_command(text), "U1", approved=True), store


def run(aws: FakeAws, store: MemoryStore, policy: Policy = POLICY) -> None:
    Engine(store.jobs, aws.gateways, policy, RecordingNotifier(), FakeClock(), poll_seconds=5).run_until_idle(
        timeout_seconds=600
    )


def listing(classes: set[str], versions: set[str]) -> FakeAws:
    aws = FakeAws(objects={"rdsbot-backups/prod-backup.bak": 2**30})
    aws.orderable, aws.engine_versions = classes, versions
    return aws


def test_versions_compare_numerically_not_as_strings():
    assert newest_of_major(OFFERED, "15.00") == "15.00.10000.1.v1"
    assert newest_of_major({"9.00.1.1.v1", "16.00.1.1.v1"}, "16.00") == "16.00.1.1.v1"
    assert newest_of_major({"15.00.4415.2.v1", "150.00.1.1.v1", "1.50.1.1.v1"}, "15.00") == "15.00.4415.2.v1"
    assert newest_of_major(OFFERED, "13.00") is None
    assert version_key("15.00.4430.1.v2") > version_key("15.00.4430.1.v1")


def test_the_plan_card_and_created_instance_carry_the_newest_version_of_the_major_for_the_class():
    aws = listing({"db.m6i.large"}, OFFERED)
    submitted, store = submit(aws, "prod-backup.bak db.m6i.large")
    assert submitted.job.plan.engine_version == "15.00.10000.1.v1"
    assert aws.listings_asked == ["sqlserver-se"]  # one listing: the class check and the version from it
    assert any(
        "sqlserver-se 15.00.10000.1.v1" in line for line in card_facts.card_lines(submitted.job, card_facts.PLAIN)
    )
    run(aws, store)
    assert [spec.engine_version for spec in aws.instance_specs] == ["15.00.10000.1.v1"]


def test_another_major_version_takes_that_majors_newest():
    aws = listing({"db.m6i.large"}, OFFERED)
    submitted, _ = submit(aws, "prod-backup.bak db.m6i.large --major-version 16.00")
    assert submitted.job.plan.engine_version == "16.00.4140.3.v1"


def test_a_major_the_region_does_not_offer_for_the_class_is_refused_naming_what_it_offers():
    aws = listing({"db.m6i.large"}, {"14.00.3465.1.v1", "16.00.4140.3.v1", "16.00.4131.2.v1"})
    store = MemoryStore()
    service = RestoreService(store.jobs, store.audit, aws.gateways, POLICY, FakeClock())
    with pytest.raises(RequestError) as caught:
        service.submit(parse_restore_command("prod-backup.bak db.m6i.large"), "U1", approved=True)
    assert (caught.value.field, caught.value.message) == (
        "major_version",
        "us-east-1 offers no 15.00 version of sqlserver-se for db.m6i.large; it offers "
        "14.00.3465.1.v1, 16.00.4140.3.v1 for that class",
    )
    assert caught.value.hint == "try another class, or --major-version 16.00"
    assert aws.mutating == [] and store.jobs.by_id == {}
    assert [e.action for e in store.events] == ["request.refused"]


def test_a_policy_pinned_version_is_used_as_is():
    pinned = parse_policy(
        {
            "backups": {"default_bucket": "rdsbot-backups"},
            "audit": {"bucket": "rdsbot-audit"},
            "network": BOT_NETWORK,
            "engine": {"engine_version": "15.00.4415.2.v1"},
        }
    )
    aws = listing({"db.m6i.large"}, OFFERED)
    submitted, store = submit(aws, "prod-backup.bak db.m6i.large", pinned)
    assert submitted.job.plan.engine_version == "15.00.4415.2.v1" and aws.listings_asked == ["sqlserver-se"]
    run(aws, store, pinned)
    assert [spec.engine_version for spec in aws.instance_specs] == ["15.00.4415.2.v1"]


def test_a_pinned_version_the_region_does_not_offer_for_the_class_is_refused_before_the_card():
    pinned = parse_policy(
        {
            "backups": {"default_bucket": "rdsbot-backups"},
            "audit": {"bucket": "rdsbot-audit"},
            "network": BOT_NETWORK,
            "engine": {"engine_version": "15.00.9999.1.v1"},
        }
    )
    aws = listing({"db.m6i.large"}, OFFERED)  # the listing has no pair of the pinned version: no class for it
    store = MemoryStore()
    service = RestoreService(store.jobs, store.audit, aws.gateways, pinned, FakeClock())
    with pytest.raises(RequestError) as caught:
        service.submit(parse_restore_command("prod-backup.bak db.m6i.large"), "U1", approved=True)
    assert (caught.value.field, caught.value.message) == (
        "engine_version",
        "us-east-1 offers no 15.00.9999.1.v1 of sqlserver-se for db.m6i.large; it offers "
        "15.00.4415.2.v1, 15.00.4430.1.v2, 15.00.10000.1.v1 for that class",
    )
    assert aws.mutating == [] and store.jobs.by_id == {}


def test_with_no_listing_at_all_the_major_is_sent_and_the_card_says_rds_picks_its_default():
    aws = listing(set(), OFFERED)
    aws.orderable = None
    submitted, store = submit(aws, "prod-backup.bak db.m6i.large --major-version 14.00")
    assert submitted.job.plan.engine_version is None and aws.listings_asked == ["sqlserver-se"]
    assert "the instance gets RDS's default 14.00 version, as none is listed to choose from" in (
        submitted.job.plan.warnings
    )
    run(aws, store)
    assert [spec.engine_version for spec in aws.instance_specs] == ["14.00"]


def test_a_drill_gets_the_resolved_version_too():
    aws = listing({"db.m6i.large"}, OFFERED)
    store = MemoryStore()
    service = RestoreService(store.jobs, store.audit, aws.gateways, POLICY, FakeClock())
    request = parse_restore_command("prod-backup.bak db.m6i.large")
    drill = service.submit(request, "drill:nightly", approved=True, drill=True).job
    assert drill.plan.engine_version == "15.00.10000.1.v1"
