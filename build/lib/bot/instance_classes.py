"""What RDS for SQL Server offers: class shape, previous generations, Nitro throttling, the Optimize CPU classes
and their cores, the major versions it still provisions, and a fallback table of orderable classes.

The fallback table is used only when describe_orderable_db_instance_options answers nothing for the engine in a
region (moto does this for SQL Server); it is a conservative subset of what AWS documents, and the plan says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain import Edition
from bot.errors import RequestError

_SHAPE = re.compile(r"^db\.(?P<family>[a-z]+\d+[a-z]*)\.(?P<size>micro|small|medium|large|xlarge|\d+xlarge)$")

# Previous-generation families RDS no longer offers for new instances, and what to use instead.
PREVIOUS_GENERATION = {
    "m1": "m6i",
    "m2": "r6i",
    "m3": "m6i",
    "m4": "m6i",
    "r3": "r6i",
    "r4": "r6i",
    "t1": "t3",
    "t2": "t3",
}
# The user's notes: Nitro classes db.m5, db.r5, db.t3 are throttled on combined read plus write workload.
NITRO_THROTTLED = {"m5", "r5", "t3"}
_SIZES_GENERAL = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge")


@dataclass(frozen=True)
class ProcessorShape:
    """An Optimize CPU class: its EC2 vCPUs and physical cores. RDS for SQL Server runs it at one thread per core
    by default (db.m7i.8xlarge: 16 cores, 16 vCPUs), and lets coreCount go down to 1 and threadsPerCore up to 2."""

    vcpus: int
    cores: int


# RDS for SQL Server accepts processor features (--cores/--threads-per-core) only as "Optimize CPU", on the
# 7th-generation license-included classes (AWS guide "SQLServer.Concepts.General.OptimizeCPU"); every other class
# (db.m5, db.r6i, db.t3, ...) refuses them at CreateDBInstance, after the approval.
OPTIMIZE_CPU_FAMILIES = ("m7i", "r7i")
_SIZES_7I = {
    "large": 2,
    "xlarge": 4,
    "2xlarge": 8,
    "4xlarge": 16,
    "8xlarge": 32,
    "12xlarge": 48,
    "16xlarge": 64,
    "24xlarge": 96,
    "48xlarge": 192,
}
OPTIMIZE_CPU: dict[str, ProcessorShape] = {
    f"db.{family}.{size}": ProcessorShape(vcpus=vcpus, cores=vcpus // 2)
    for family in OPTIMIZE_CPU_FAMILIES
    for size, vcpus in _SIZES_7I.items()
}
MAX_THREADS_PER_CORE = 2

# Major versions: 16.00 (2022), 15.00 (2019), 14.00 (2017), 13.00 (2016) are provisioned; 11.00 (2012) and
# 12.00 (2014) reached end of support on RDS and can no longer be created (AWS guide
# "SQLServer.Concepts.General.VersionSupport"; the major-upgrade table "USER_UpgradeDBInstance.SQLServer.Major"
# starts at 2016).
SUPPORTED_MAJOR_VERSIONS = ("13.00", "14.00", "15.00", "16.00")
END_OF_SUPPORT_MAJOR_VERSIONS = {"11.00": "SQL Server 2012", "12.00": "SQL Server 2014"}
_SIZES_SMALL = ("micro", "small", "medium", "large", "xlarge", "2xlarge")


def _classes(families: tuple[str, ...], sizes: tuple[str, ...]) -> frozenset[str]:
    return frozenset(f"db.{family}.{size}" for family in families for size in sizes)


BUILTIN_ORDERABLE: dict[Edition, frozenset[str]] = {
    Edition.EXPRESS: _classes(("t3",), ("micro", "small", "medium", "large", "xlarge"))
    | _classes(("m5", "r5", "m6i", "r6i"), ("large", "xlarge")),
    Edition.WEB: _classes(("t3",), ("small", "medium", "large", "xlarge", "2xlarge"))
    | _classes(("m5", "r5", "m6i", "r6i"), ("large", "xlarge", "2xlarge", "4xlarge")),
    Edition.STANDARD: _classes(("t3",), ("xlarge", "2xlarge"))
    | _classes(("m5", "m5d", "r5", "r5b", "r5d", "m6i", "r6i"), _SIZES_GENERAL)
    | frozenset(OPTIMIZE_CPU),
    Edition.ENTERPRISE: _classes(("t3",), ("xlarge", "2xlarge"))
    | _classes(("m5", "m5d", "r5", "r5b", "r5d", "m6i", "r6i", "x2iedn", "z1d"), _SIZES_GENERAL)
    | frozenset(OPTIMIZE_CPU),
}


def family_of(instance_class: str) -> str:
    """The family (m5, r6i, ...) of a well-shaped class; RequestError when the shape is wrong."""
    match = _SHAPE.match(instance_class)
    if not match:
        raise RequestError(
            "instance_class",
            f"{instance_class!r} is not an RDS instance class",
            "use the form db.<family>.<size>, e.g. db.m5.large",
        )
    return match.group("family")


def check_class(instance_class: str) -> list[str]:
    """Refuse malformed and previous-generation classes; return warnings (Nitro throttling) for the rest."""
    family = family_of(instance_class)
    if family in PREVIOUS_GENERATION:
        size = instance_class.rsplit(".", 1)[1]
        modern = f"db.{PREVIOUS_GENERATION[family]}.{size if size not in _SIZES_SMALL[:3] else 'large'}"
        raise RequestError(
            "instance_class",
            f"{instance_class} is a previous-generation class RDS no longer offers for SQL Server",
            f"try {modern}",
        )
    if family in NITRO_THROTTLED:
        return [
            f"{instance_class} runs on the AWS Nitro System: db.m5, db.r5 and db.t3 are throttled on combined "
            "read plus write workload; consider db.m6i or db.r6i for a heavy restore"
        ]
    return []


def suggest_orderable(instance_class: str, orderable: set[str] | frozenset[str]) -> str | None:
    """A close orderable class: same size in a modern family, else any class of that size."""
    size = instance_class.rsplit(".", 1)[-1]
    for family in ("m6i", "m5", "r6i", "r5"):
        candidate = f"db.{family}.{size}"
        if candidate in orderable:
            return candidate
    same_size = sorted(c for c in orderable if c.endswith(f".{size}"))
    if same_size:
        return same_size[0]
    return "db.m5.large" if "db.m5.large" in orderable else (min(orderable) if orderable else None)


def check_processor_features(
    instance_class: str, cores: int | None, threads_per_core: int | None, license_model: str
) -> None:
    """Cores and threads per core only on an Optimize CPU class, license-included, within its shape."""
    if cores is None and threads_per_core is None:
        return
    field = "cores" if cores is not None else "threads_per_core"
    shape = OPTIMIZE_CPU.get(instance_class)
    if shape is None:
        size = instance_class.rsplit(".", 1)[-1]
        nearest = f"db.m7i.{size}" if f"db.m7i.{size}" in OPTIMIZE_CPU else "db.m7i.large"
        raise RequestError(
            field,
            f"RDS for SQL Server sets cores and threads per core only on Optimize CPU classes "
            f"({', '.join(f'db.{f}' for f in OPTIMIZE_CPU_FAMILIES)}), not on {instance_class}",
            f"drop --cores/--threads-per-core, or use e.g. {nearest}",
        )
    if license_model != "license-included":
        raise RequestError(field, f"Optimize CPU is offered only for license-included instances, not {license_model}")
    if cores is not None and not 1 <= cores <= shape.cores:
        raise RequestError("cores", f"{instance_class} has {shape.cores} cores", f"use --cores 1 to {shape.cores}")
    if threads_per_core is not None and not 1 <= threads_per_core <= MAX_THREADS_PER_CORE:
        raise RequestError("threads_per_core", f"{threads_per_core} threads per core", "use 1 or 2")


def check_major_version(major_version: str, field: str = "major_version") -> str:
    """A major version RDS for SQL Server still provisions; end-of-support majors are refused with the way on."""
    if major_version in END_OF_SUPPORT_MAJOR_VERSIONS:
        raise RequestError(
            field,
            f"{major_version} ({END_OF_SUPPORT_MAJOR_VERSIONS[major_version]}) has reached end of support on RDS "
            "and can no longer be provisioned",
            f"restore onto {SUPPORTED_MAJOR_VERSIONS[-1]} or {SUPPORTED_MAJOR_VERSIONS[-2]}: "
            "SQL Server restores older backups onto newer versions",
        )
    if major_version not in SUPPORTED_MAJOR_VERSIONS:
        raise RequestError(
            field, f"{major_version!r} is not a SQL Server major version", f"use {', '.join(SUPPORTED_MAJOR_VERSIONS)}"
        )
    return major_version
