"""Optimize CPU (--cores/--threads-per-core on db.m7i/db.r7i only, license-included, within the class's cores)
and the major versions RDS for SQL Server still provisions: each rule alone, whole error values pinned."""

from __future__ import annotations

import pytest

from bot.errors import RequestError
from bot.instance_classes import check_major_version, check_processor_features, suggest_orderable


def _refusal(excinfo: pytest.ExceptionInfo[RequestError]) -> tuple[str, str, str | None]:
    return excinfo.value.field, excinfo.value.message, excinfo.value.hint


# Optimize CPU classes only


def test_cores_on_a_class_without_optimize_cpu_name_the_m7i_class_of_the_same_size() -> None:
    with pytest.raises(RequestError) as excinfo:
        check_processor_features("db.m5.2xlarge", 2, None, "license-included")
    assert _refusal(excinfo) == (
        "cores",
        "RDS for SQL Server sets cores and threads per core only on Optimize CPU classes (db.m7i, db.r7i), "
        "not on db.m5.2xlarge",
        "drop --cores/--threads-per-core, or use e.g. db.m7i.2xlarge",
    )


def test_threads_alone_on_a_class_without_optimize_cpu_are_refused_under_threads_per_core() -> None:
    with pytest.raises(RequestError) as excinfo:
        check_processor_features("db.r6i.xlarge", None, 1, "license-included")
    assert excinfo.value.field == "threads_per_core"
    assert excinfo.value.hint == "drop --cores/--threads-per-core, or use e.g. db.m7i.xlarge"


def test_a_size_no_m7i_class_has_falls_back_to_db_m7i_large() -> None:
    with pytest.raises(RequestError) as excinfo:
        check_processor_features("db.t3.micro", 1, None, "license-included")
    assert excinfo.value.hint == "drop --cores/--threads-per-core, or use e.g. db.m7i.large"


def test_a_class_without_a_dot_falls_back_to_db_m7i_large() -> None:
    with pytest.raises(RequestError) as excinfo:
        check_processor_features("m7ixlarge", 1, None, "license-included")
    assert excinfo.value.hint == "drop --cores/--threads-per-core, or use e.g. db.m7i.large"


def test_no_processor_features_pass_on_any_class_and_license() -> None:
    check_processor_features("db.m5.large", None, None, "bring-your-own-license")


# license-included only


def test_optimize_cpu_with_another_license_is_refused_without_a_hint() -> None:
    with pytest.raises(RequestError) as excinfo:
        check_processor_features("db.m7i.xlarge", 1, None, "bring-your-own-license")
    assert _refusal(excinfo) == (
        "cores",
        "Optimize CPU is offered only for license-included instances, not bring-your-own-license",
        None,
    )


def test_threads_with_another_license_are_refused_under_threads_per_core() -> None:
    with pytest.raises(RequestError) as excinfo:
        check_processor_features("db.r7i.large", None, 2, "bring-your-own-license")
    assert _refusal(excinfo) == (
        "threads_per_core",
        "Optimize CPU is offered only for license-included instances, not bring-your-own-license",
        None,
    )


# cores: 1 to the class's physical cores (half its vCPUs)


@pytest.mark.parametrize("cores", [1, 2])
def test_cores_from_one_to_the_class_cores_pass(cores: int) -> None:
    check_processor_features("db.m7i.xlarge", cores, None, "license-included")


@pytest.mark.parametrize("cores", [0, 3])
def test_cores_outside_one_to_the_class_cores_are_refused(cores: int) -> None:
    with pytest.raises(RequestError) as excinfo:
        check_processor_features("db.m7i.xlarge", cores, None, "license-included")
    assert _refusal(excinfo) == ("cores", "db.m7i.xlarge has 2 cores", "use --cores 1 to 2")


def test_cores_limit_follows_the_class_size() -> None:
    check_processor_features("db.r7i.48xlarge", 96, 2, "license-included")
    with pytest.raises(RequestError) as excinfo:
        check_processor_features("db.r7i.48xlarge", 97, None, "license-included")
    assert _refusal(excinfo) == ("cores", "db.r7i.48xlarge has 96 cores", "use --cores 1 to 96")


# threads per core: 1 or 2


@pytest.mark.parametrize("threads", [1, 2])
def test_one_or_two_threads_per_core_pass(threads: int) -> None:
    check_processor_features("db.m7i.large", None, threads, "license-included")


@pytest.mark.parametrize("threads", [0, 3])
def test_other_threads_per_core_are_refused(threads: int) -> None:
    with pytest.raises(RequestError) as excinfo:
        check_processor_features("db.m7i.large", 1, threads, "license-included")
    assert _refusal(excinfo) == ("threads_per_core", f"{threads} threads per core", "use 1 or 2")


# major versions


@pytest.mark.parametrize("major", ["13.00", "14.00", "15.00", "16.00"])
def test_supported_major_versions_are_returned(major: str) -> None:
    assert check_major_version(major) == major


@pytest.mark.parametrize(("major", "product"), [("11.00", "SQL Server 2012"), ("12.00", "SQL Server 2014")])
def test_end_of_support_major_is_refused_with_the_two_newest_majors(major: str, product: str) -> None:
    with pytest.raises(RequestError) as excinfo:
        check_major_version(major)
    assert _refusal(excinfo) == (
        "major_version",
        f"{major} ({product}) has reached end of support on RDS and can no longer be provisioned",
        "restore onto 16.00 or 15.00: SQL Server restores older backups onto newer versions",
    )


def test_end_of_support_major_is_refused_under_the_callers_field() -> None:
    with pytest.raises(RequestError) as excinfo:
        check_major_version("12.00", field="engine.major_version")
    assert excinfo.value.field == "engine.major_version"


def test_unknown_major_is_refused_with_the_supported_list() -> None:
    with pytest.raises(RequestError) as excinfo:
        check_major_version("17.00")
    assert _refusal(excinfo) == (
        "major_version",
        "'17.00' is not a SQL Server major version",
        "use 13.00, 14.00, 15.00, 16.00",
    )


def test_unknown_major_is_refused_under_the_callers_field() -> None:
    with pytest.raises(RequestError) as excinfo:
        check_major_version("2019", field="engine.major_version")
    assert excinfo.value.field == "engine.major_version"


# suggest_orderable reads the size after the last dot


def test_suggestion_for_a_class_without_a_dot_uses_the_whole_name_as_size() -> None:
    assert suggest_orderable("large", {"db.r6i.large", "db.m5.xlarge"}) == "db.r6i.large"
