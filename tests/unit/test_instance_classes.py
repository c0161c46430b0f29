"""Instance class rules alone: previous generations one family at a time, the Nitro warning, burstable classes
without processor features, the fallback table and its suggestions.

Each previous-generation request names a class the region's orderable list includes, in a well-formed shape, with
an allowed bucket and region: only the previous-generation rule can refuse it.
"""

from __future__ import annotations

import pytest

from bot import instance_classes
from bot.domain import Edition
from bot.errors import RequestError
from bot.instance_classes import check_class, family_of, suggest_orderable
from bot.parser import parse_restore_command
from bot.service import RestoreService, Submitted
from config.policy_model import parse_policy
from tests.support.factories import BOT_NETWORK
from tests.unit.fakes import FakeAws, FakeClock
from tests.unit.memory_store import MemoryStore

POLICY = parse_policy({"backups": {"default_bucket": "rdsbot-backups"}, "network": BOT_NETWORK})
# Written out, not read from bot.instance_classes: deleting a family from the table must fail a case here.
PREVIOUS_GENERATION = [
    ("m1", "m6i"),
    ("m2", "r6i"),
    ("m3", "m6i"),
    ("m4", "m6i"),
    ("r3", "r6i"),
    ("r4", "r6i"),
    ("t1", "t3"),
    ("t2", "t3"),
]


def submit(instance_class: str, orderable: set[str], extra: str = "") -> Submitted:
    aws = FakeAws()
    aws.orderable = orderable
    store = MemoryStore()
    service = RestoreService(store.jobs, store.audit, aws.gateways, POLICY, FakeClock())
    return service.submit(parse_restore_command(f"prod-backup.bak {instance_class}{extra}"), "U1", approved=True)


@pytest.mark.parametrize(("family", "modern"), PREVIOUS_GENERATION)
def test_each_previous_generation_family_is_refused_even_where_the_region_offers_it(family: str, modern: str) -> None:
    old = f"db.{family}.xlarge"
    with pytest.raises(RequestError) as caught:
        submit(old, orderable={old, f"db.{modern}.xlarge"})
    assert caught.value.field == "instance_class"
    assert f"{old} is a previous-generation class" in str(caught.value)
    assert f"try db.{modern}.xlarge" in str(caught.value)


@pytest.mark.parametrize(("family", "modern"), PREVIOUS_GENERATION)
def test_the_suggested_replacement_of_each_family_is_itself_accepted(family: str, modern: str) -> None:
    submitted = submit(f"db.{modern}.xlarge", orderable={f"db.{family}.xlarge", f"db.{modern}.xlarge"})
    assert submitted.job.plan.instance_class == f"db.{modern}.xlarge"


def test_the_table_holds_exactly_the_families_tested_here() -> None:
    assert dict(PREVIOUS_GENERATION) == instance_classes.PREVIOUS_GENERATION


@pytest.mark.parametrize(
    ("old", "suggested"),
    [("db.m1.micro", "db.m6i.large"), ("db.t2.small", "db.t3.large"), ("db.t2.medium", "db.t3.large"),
     ("db.m4.large", "db.m6i.large"), ("db.r4.2xlarge", "db.r6i.2xlarge"), ("db.m4.16xlarge", "db.m6i.16xlarge")],
)  # fmt: skip
def test_small_previous_generation_sizes_suggest_large_and_the_rest_keep_their_size(old: str, suggested: str) -> None:
    with pytest.raises(RequestError, match=f"try {suggested}$"):
        check_class(old)


@pytest.mark.parametrize("nitro", ["db.m5.large", "db.r5.xlarge", "db.t3.medium"])
def test_exactly_the_throttled_nitro_families_carry_the_warning(nitro: str) -> None:
    (warning,) = check_class(nitro)
    assert warning.startswith(f"{nitro} runs on the AWS Nitro System: db.m5, db.r5 and db.t3 are throttled")
    assert warning.endswith("consider db.m6i or db.r6i for a heavy restore")


@pytest.mark.parametrize("quiet", ["db.m6i.large", "db.r6i.4xlarge", "db.m5d.large", "db.r5b.xlarge", "db.t4g.small"])
def test_other_families_carry_no_warning(quiet: str) -> None:
    assert check_class(quiet) == []


@pytest.mark.parametrize("bad", ["m5.large", "db.m5", "db.m5.huge", "db.M5.large", "db.5m.large", "xdb.m5.large",
                                 "db.m5.large.x", "db.m5.xlargex", "db..large"])  # fmt: skip
def test_a_class_out_of_shape_is_refused_with_the_form_to_use(bad: str) -> None:
    with pytest.raises(RequestError) as caught:
        family_of(bad)
    assert caught.value.field == "instance_class"
    assert str(caught.value) == (
        f"instance_class: {bad!r} is not an RDS instance class; use the form db.<family>.<size>, e.g. db.m5.large"
    )


@pytest.mark.parametrize(
    ("instance_class", "family"),
    [("db.m5.large", "m5"), ("db.r5b.8xlarge", "r5b"), ("db.x2iedn.24xlarge", "x2iedn"), ("db.t3.micro", "t3")],
)
def test_the_family_is_read_from_a_well_formed_class(instance_class: str, family: str) -> None:
    assert family_of(instance_class) == family


@pytest.mark.parametrize("other", ["db.t3.xlarge", "db.t4g.large", "db.m6i.xlarge", "db.r6i.2xlarge"])
@pytest.mark.parametrize(("flag", "field"), [("--cores 2", "cores"), ("--threads-per-core 1", "threads_per_core")])
def test_processor_features_are_refused_outside_optimize_cpu_classes_and_only_there(
    other: str, flag: str, field: str
) -> None:
    # The class is orderable here, so only the Optimize CPU rule (guide "SQLServer.Concepts.General.OptimizeCPU")
    # can refuse it; a 7th-generation class of the same size takes the same flag.
    with pytest.raises(RequestError) as caught:
        submit(other, orderable={other}, extra=f" {flag}")
    assert caught.value.field == field and "only on Optimize CPU classes" in str(caught.value)
    assert submit("db.m7i.xlarge", orderable={"db.m7i.xlarge"}, extra=f" {flag}").job.plan.instance_class


def test_suggestions_prefer_the_same_size_in_a_modern_family_in_order() -> None:
    assert suggest_orderable("db.x1.xlarge", {"db.r5.xlarge", "db.m5.xlarge", "db.m6i.xlarge"}) == "db.m6i.xlarge"
    assert suggest_orderable("db.x1.xlarge", {"db.r5.xlarge", "db.m5.xlarge"}) == "db.m5.xlarge"
    assert suggest_orderable("db.x1.xlarge", {"db.r5.xlarge", "db.r6i.xlarge"}) == "db.r6i.xlarge"
    assert suggest_orderable("db.x1.xlarge", {"db.r5.xlarge", "db.m5.large"}) == "db.r5.xlarge"


def test_suggestions_fall_back_to_any_class_of_that_size_then_to_a_default() -> None:
    assert suggest_orderable("db.x1.xlarge", {"db.z1d.xlarge", "db.r5b.xlarge", "db.m5.large"}) == "db.r5b.xlarge"
    assert suggest_orderable("db.x1.32xlarge", {"db.z1d.xlarge", "db.m5.large"}) == "db.m5.large"
    assert suggest_orderable("db.x1.32xlarge", {"db.z1d.xlarge", "db.r5b.large"}) == "db.r5b.large"
    assert suggest_orderable("db.x1.32xlarge", set()) is None


@pytest.mark.parametrize(
    ("edition", "present", "absent"),
    [
        (Edition.EXPRESS, ["db.t3.micro", "db.t3.xlarge", "db.m5.xlarge"], ["db.t3.2xlarge", "db.m5.2xlarge"]),
        (Edition.WEB, ["db.t3.small", "db.t3.2xlarge", "db.m6i.4xlarge"], ["db.t3.micro", "db.m5.8xlarge"]),
        (Edition.STANDARD, ["db.t3.xlarge", "db.m5d.24xlarge", "db.r5b.large"], ["db.t3.large", "db.z1d.large"]),
        (Edition.ENTERPRISE, ["db.x2iedn.large", "db.z1d.24xlarge", "db.t3.2xlarge"], ["db.t3.medium", "db.m5.micro"]),
    ],
)  # fmt: skip
def test_the_fallback_table_offers_each_edition_its_documented_classes(edition, present, absent) -> None:
    table = instance_classes.BUILTIN_ORDERABLE[edition]
    assert all(c in table for c in present) and not any(c in table for c in absent)


def test_suggestions_name_r5_before_other_families_and_m5_large_before_other_sizes() -> None:
    assert suggest_orderable("db.x1.xlarge", {"db.m5d.xlarge", "db.r5.xlarge"}) == "db.r5.xlarge"
    assert suggest_orderable("db.x1.32xlarge", {"db.c5.large", "db.m5.large"}) == "db.m5.large"
