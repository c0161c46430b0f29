"""Instance class rules for RDS for SQL Server: shape, previous generations, Nitro throttling, a fallback table.

The fallback table is used only when describe_orderable_db_instance_options answers nothing for the engine in a
region (moto does this for SQL Server); it is a conservative subset of what AWS documents, and the plan says so.
"""

from __future__ import annotations

import re

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
# Burstable classes have no processor features (cores / threads per core) to set.
BURSTABLE = {"t3", "t4g"}

_SIZES_GENERAL = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge")
_SIZES_SMALL = ("micro", "small", "medium", "large", "xlarge", "2xlarge")


def _classes(families: tuple[str, ...], sizes: tuple[str, ...]) -> frozenset[str]:
    return frozenset(f"db.{family}.{size}" for family in families for size in sizes)


BUILTIN_ORDERABLE: dict[Edition, frozenset[str]] = {
    Edition.EXPRESS: _classes(("t3",), ("micro", "small", "medium", "large", "xlarge"))
    | _classes(("m5", "r5", "m6i", "r6i"), ("large", "xlarge")),
    Edition.WEB: _classes(("t3",), ("small", "medium", "large", "xlarge", "2xlarge"))
    | _classes(("m5", "r5", "m6i", "r6i"), ("large", "xlarge", "2xlarge", "4xlarge")),
    Edition.STANDARD: _classes(("t3",), ("xlarge", "2xlarge"))
    | _classes(("m5", "m5d", "r5", "r5b", "r5d", "m6i", "r6i"), _SIZES_GENERAL),
    Edition.ENTERPRISE: _classes(("t3",), ("xlarge", "2xlarge"))
    | _classes(("m5", "m5d", "r5", "r5b", "r5d", "m6i", "r6i", "x2iedn", "z1d"), _SIZES_GENERAL),
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
