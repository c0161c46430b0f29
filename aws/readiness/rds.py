"""RDS in each allowed region: the default edition (and each drill's class) is orderable, the engine version a
restore would get is (bot/doctor_engine_version.py), both SQL Server options exist for the default edition and major
version, and the account has DB instance quota left.

AWS (RDS API reference): "DescribeOrderableDBInstanceOptions" (moto answers nothing for SQL Server: then the
built-in table of bot/instance_classes.py decides, said as a warn), "DescribeOptionGroupOptions" (EngineName,
MajorEngineVersion; SQLSERVER_BACKUP_RESTORE and SQLSERVER_AUDIT), "DescribeAccountAttributes" (AccountQuotas:
DBInstances Used / Max; moto does not implement it: a warn).
"""

from __future__ import annotations

from typing import Any

from aws.errors import aws_call
from aws.instances import Instances
from bot import instance_classes
from bot.doctor import CheckResult, fail, ok, warn
from bot.doctor_engine_version import engine_version_checks
from bot.errors import AwsError
from bot.orderable import ListedOnce
from config.policy_model import Policy

NEEDED_OPTIONS = ("SQLSERVER_BACKUP_RESTORE", "SQLSERVER_AUDIT")
_LOW_HEADROOM = 2  # fewer free instances than this is a warn: two restores at once would hit the quota


class RdsChecks:
    def __init__(self, rds: Any, policy: Policy, region: str) -> None:
        self._rds = rds
        # One listing per edition for both the class check and the engine version check (bot/orderable.py).
        self._listing = ListedOnce(Instances(rds))
        self._policy = policy
        self._region = region

    def orderable(self) -> list[CheckResult]:
        engine = self._policy.engine
        edition = engine.edition
        classes = sorted(
            {d.instance_class for d in self._policy.drills if self._policy.drill_region(d) == self._region}
        )
        subject = f"{edition.value} {engine.engine_version or engine.major_version} in {self._region}"
        try:
            listed = self._listing.orderable_options(edition.value, engine_version=engine.engine_version).classes()
        except AwsError as exc:
            return [warn("rds", "orderable classes", subject, f"could not ask RDS: {exc}")]
        builtin = not listed
        known = listed or instance_classes.BUILTIN_ORDERABLE[edition]
        missing = [c for c in classes if c not in known]
        source = "rdsbot's built-in table" if builtin else "RDS"
        if missing:
            fix = f"change drills' instance_class to one {source} lists for {edition.value}, e.g. " + str(
                instance_classes.suggest_orderable(missing[0], known)
            )
            return [fail("rds", "orderable classes", subject, f"not orderable per {source}: {', '.join(missing)}", fix)]
        detail = f"{len(known)} classes" + (f", drills' {', '.join(classes)} among them" if classes else "")
        if builtin:
            return [warn("rds", "orderable classes", subject, f"RDS listed none; using the built-in table: {detail}")]
        return [ok("rds", "orderable classes", subject, detail)]

    def engine_version(self) -> list[CheckResult]:
        return engine_version_checks(self._listing, self._policy, self._region)

    def options(self) -> list[CheckResult]:
        engine = self._policy.engine
        subject = f"{engine.edition.value} {engine.major_version} in {self._region}"
        try:
            with aws_call("DescribeOptionGroupOptions"):
                pages = self._rds.get_paginator("describe_option_group_options").paginate(
                    EngineName=engine.edition.value, MajorEngineVersion=engine.major_version
                )
                names = {o["Name"] for page in pages for o in page["OptionGroupOptions"]}
        except AwsError as exc:
            return [warn("rds", "option group options", subject, f"could not ask RDS: {exc}")]
        missing = [o for o in NEEDED_OPTIONS if o not in names]
        if missing:
            fix = "choose engine.edition / engine.major_version that offer them (aws rds describe-option-group-options)"
            return [fail("rds", "option group options", subject, f"{', '.join(missing)} not offered", fix)]
        return [ok("rds", "option group options", subject, " and ".join(NEEDED_OPTIONS) + " offered")]

    def quota(self) -> list[CheckResult]:
        subject = f"DBInstances quota in {self._region}"
        try:
            with aws_call("DescribeAccountAttributes"):
                quotas = self._rds.describe_account_attributes()["AccountQuotas"]
        except AwsError as exc:
            return [warn("rds", "instance quota", subject, f"could not read the quota: {exc}")]
        quota = next((q for q in quotas if q["AccountQuotaName"] == "DBInstances"), None)
        if quota is None:
            return [warn("rds", "instance quota", subject, "RDS reported no DBInstances quota")]
        used, most = int(quota["Used"]), int(quota["Max"])
        detail = f"{used} of {most} used (license-included SQL Server has its own per-edition limit, 10 by default)"
        fix = "delete unused instances, or ask for more: aws service-quotas request-service-quota-increase"
        if used >= most:
            return [fail("rds", "instance quota", subject, detail, fix)]
        if most - used < _LOW_HEADROOM:
            return [warn("rds", "instance quota", subject, detail, fix)]
        return [ok("rds", "instance quota", subject, detail)]
