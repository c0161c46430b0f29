"""The exact engine version a new instance runs: the one the approver sees on the card and the option group serves.

An option group serves one engine and major version, and only an instance of those may use it (AWS guide
"USER_WorkingWithOptionGroups"). CreateDBInstance without EngineVersion runs the engine's default version (API
reference "API_CreateDBInstance", EngineVersion), which may be another major than the plan's, so RDS would refuse
rdsbot's option group or create a version nobody approved. The newest version of the plan's major that the region
offers for the class is read from DescribeOrderableDBInstanceOptions (moto lacks DescribeDBEngineVersions).
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.errors import RequestError


def version_key(version: str) -> tuple[int, ...]:
    """A version compared numerically: 15.00.4415.2.v1 -> (15, 0, 4415, 2, 1); '16.00' sorts above '9.00'."""
    parts = [part.lstrip("v") for part in version.split(".")]
    return tuple(int(part) if part.isdigit() else -1 for part in parts)


def major_of(version: str) -> str:
    """The major version: the first two dot parts (15.00.4415.2.v1 -> 15.00)."""
    return ".".join(version.split(".")[:2])


def is_of_major(version: str, major: str) -> bool:
    """Whether `version` belongs to `major`, compared numerically (so 15.0 is 15.00)."""
    return version_key(major_of(version)) == version_key(major)[:2]


def newest_of_major(versions: Iterable[str], major: str) -> str | None:
    """The highest version whose major is `major`; None when none is."""
    same = [v for v in versions if is_of_major(v, major)]
    return max(same, key=version_key) if same else None


def newest_per_major(versions: Iterable[str]) -> list[str]:
    """The newest version of each major in `versions`, the oldest major first: what a refusal names as offered."""
    listed = list(versions)
    majors = sorted({major_of(v) for v in listed}, key=version_key)
    return [v for v in (newest_of_major(listed, m) for m in majors) if v is not None]


def resolve(versions: set[str], major: str, engine: str, instance_class: str, region: str) -> str:
    """The newest `major` version in the region's orderable `versions` for the class, or a RequestError naming the
    major and the newest version of each major the region does offer for it."""
    newest = newest_of_major(versions, major)
    if newest is not None:
        return newest
    offered = newest_per_major(versions)
    raise RequestError(
        "major_version",
        f"{region} offers no {major} version of {engine} for {instance_class}; it offers "
        + (", ".join(offered) if offered else "no version at all")
        + " for that class",
        f"try another class, or --major-version {major_of(offered[-1])}" if offered else "try another class",
    )


def check_pinned(versions: set[str], pinned: str, major: str, engine: str, instance_class: str, region: str) -> str:
    """A pinned exact version (policy engine.engine_version) when it is of `major`, whose option group the instance
    gets, and orderable for the class; else a RequestError naming the versions of its major that are, or the newest
    of each major when none is. Its hints name policy keys: the doctor asks it, a request cannot pin a version."""
    if not is_of_major(pinned, major):
        raise RequestError(
            "engine_version",
            f"{pinned} is not a {major} version, and rdsbot's option group serves {major} only",
            f"set engine.engine_version to a {major} version, or engine.major_version to {major_of(pinned)}",
        )
    if pinned in versions:
        return pinned
    same_major = sorted((v for v in versions if is_of_major(v, major)), key=version_key)
    offered = same_major or newest_per_major(versions)
    raise RequestError(
        "engine_version",
        f"{region} offers no {pinned} of {engine} for {instance_class}; it offers "
        + (", ".join(offered) if offered else "no version at all")
        + " for that class",
        f"set engine.engine_version to {same_major[-1]}, or remove it to take the newest {major}"
        if same_major
        else "choose another class",
    )


def default_version_note(major: str) -> str:
    """The card's note when the region lists no orderable options: RDS then picks its default version of `major`."""
    return f"the instance gets RDS's default {major} version, as none is listed to choose from"
