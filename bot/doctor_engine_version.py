"""rdsbot doctor's engine version check: the exact version a new instance of the policy's defaults would run.

It reads the listing a restore reads (DescribeOrderableDBInstanceOptions for the engine, AWS API reference
"API_DescribeOrderableDBInstanceOptions") and decides with the restore's own rules (bot/engine_versions.py):
the newest orderable version of the major, or the pinned engine.engine_version; nothing listed means RDS picks its
default of the major (API reference "API_CreateDBInstance", EngineVersion), which is a warning, not a failure.

The class: a restore has no default class (each request names one), so the check looks at each drill's class in
the region (what the drills will order), and with no drill there at the class the usage lines teach.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot import engine_versions, instance_classes
from bot.doctor import CheckResult, fail, ok, warn
from bot.domain import Edition
from bot.errors import AwsError, RequestError
from bot.orderable import ListedOnce, OrderableListing
from config.policy_model import Policy

CHECK = "engine version"
# The class of the usage lines (/rds-restore prod-backup.bak db.m5.large) and suggest_orderable's last resort.
USAGE_CLASS = "db.m5.large"


@dataclass(frozen=True)
class VersionTarget:
    """One edition and class a restore in the region orders, and whose it is (drill names, or the usage class)."""

    edition: Edition
    instance_class: str
    drills: tuple[str, ...] = ()


def version_targets(policy: Policy, region: str) -> list[VersionTarget]:
    """Each (edition, class) the region's drills order, or the policy's edition with the usage class when none."""
    found: dict[tuple[Edition, str], list[str]] = {}
    for drill in policy.drills:
        if policy.drill_region(drill) == region:
            edition = drill.engine.edition or policy.engine.edition
            found.setdefault((edition, drill.instance_class), []).append(drill.name)
    if not found:
        return [VersionTarget(policy.engine.edition, USAGE_CLASS)]
    return [VersionTarget(edition, cls, tuple(names)) for (edition, cls), names in found.items()]


def engine_version_checks(listing: OrderableListing, policy: Policy, region: str) -> list[CheckResult]:
    """One line per target: ok with the version a restore gets, warn when RDS lists nothing (its default of the
    major then), FAIL when the major or the pinned version is not orderable for the class, naming what is. One
    listing per edition serves every target of it."""
    once = ListedOnce.of(listing)
    return [_check(once, policy, region, target) for target in version_targets(policy, region)]


def _check(listing: OrderableListing, policy: Policy, region: str, target: VersionTarget) -> CheckResult:
    engine, cls = target.edition.value, target.instance_class
    major, pinned = policy.engine.major_version, policy.engine.engine_version
    whose = f"drills {', '.join(target.drills)}" if target.drills else "no drill here; the usage lines' class"
    subject = f"{engine} {pinned or major} on {cls} in {region} ({whose})"
    try:
        versions = listing.orderable_options(engine).versions(cls)
        if not versions:
            return _nothing_listed(listing, subject, target, major, pinned)
    except AwsError as exc:
        return warn("rds", CHECK, subject, f"could not ask RDS: {exc}")
    where = "drills' instance_class" if target.drills else "the class restores name"
    if pinned is not None:
        try:
            version = engine_versions.check_pinned(versions, pinned, major, engine, cls, region)
        except RequestError as exc:
            return fail("rds", CHECK, subject, exc.message, exc.hint or f"change {where}")
        return ok("rds", CHECK, subject, f"a restore gets the pinned {version} (engine.engine_version)")
    try:
        version = engine_versions.resolve(versions, major, engine, cls, region)
    except RequestError as exc:
        newest = engine_versions.newest_per_major(versions)[-1]
        fix = f"set engine.major_version to {engine_versions.major_of(newest)}, or change {where}"
        return fail("rds", CHECK, subject, exc.message, fix)
    return ok("rds", CHECK, subject, f"a restore gets {version}, the newest {major} orderable for {cls}")


def _nothing_listed(
    listing: OrderableListing, subject: str, target: VersionTarget, major: str, pinned: str | None
) -> CheckResult:
    """No version for the class: either the region lists the engine but not the class (a restore with it is
    refused), or nothing at all, and RDS picks its default version (bot/preflight.py sends the major alone)."""
    engine, cls = target.edition.value, target.instance_class
    classes = listing.orderable_options(engine).classes()
    if classes:
        suggestion = instance_classes.suggest_orderable(cls, classes)
        detail = f"{cls} is not orderable for {engine}, so no version is"
        if not target.drills:
            return warn("rds", CHECK, subject, f"{detail}; restores must name an orderable class, e.g. {suggestion}")
        return fail("rds", CHECK, subject, detail, f"set drills' instance_class to an orderable one, e.g. {suggestion}")
    if pinned is not None:
        detail = f"RDS lists no orderable {engine} option for {cls}; the pinned {pinned} is sent unchecked"
        return warn("rds", CHECK, subject, detail)
    return warn("rds", CHECK, subject, f"RDS lists none: {engine_versions.default_version_note(major)}")
