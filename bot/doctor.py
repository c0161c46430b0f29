"""`rdsbot doctor`: readiness checks of a real account, workspace and policy, as results and one report. Pure.

Each check is a function returning CheckResults; the adapters that read AWS (aws/readiness/), the store
(bot/store/migration_status.py) and Slack (handlers/slack_readiness.py) are wired in bot/bootstrap/. A check
that raises does not stop the others: it becomes a FAIL line naming the error.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from bot.authz import Action, Authorizer, Forbidden
from bot.slack_text import SlackText, mrkdwn
from config.approvals_policy import DEPRECATED_REPLACE_APPROVERS
from config.policy_model import Policy


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


@dataclass(frozen=True)
class CheckResult:
    """One line of the report: which check, how it went, what it looked at, and for a FAIL the fix."""

    area: str  # settings, identity, buckets, kms, network, rds, approvers, slack
    check: str
    status: Status
    subject: str  # the ARN, name or region looked at
    detail: str = ""
    fix: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {k: str(v) if isinstance(v, Status) else v for k, v in asdict(self).items()}


def ok(area: str, check: str, subject: str, detail: str = "") -> CheckResult:
    return CheckResult(area, check, Status.OK, subject, detail)


def warn(area: str, check: str, subject: str, detail: str, fix: str | None = None) -> CheckResult:
    return CheckResult(area, check, Status.WARN, subject, detail, fix)


def fail(area: str, check: str, subject: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(area, check, Status.FAIL, subject, detail, fix)


Check = Callable[[], Sequence[CheckResult]]


@dataclass(frozen=True)
class Report:
    results: tuple[CheckResult, ...]

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.status == Status.FAIL)

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, 1 otherwise (warnings do not fail the doctor)."""
        return 1 if self.failed else 0

    def as_json(self) -> list[dict[str, str | None]]:
        return [r.as_dict() for r in self.results]

    def text(self) -> str:
        """One line per check (`FAIL  area  check: subject: detail`), the fix indented under a FAIL or warn."""
        lines = []
        for r in self.results:
            detail = f": {r.detail}" if r.detail else ""
            lines.append(f"{r.status.value:<4}  {r.area:<9} {r.check}: {r.subject}{detail}")
            if r.fix and r.status != Status.OK:
                lines.append(f"{'':<16}fix: {r.fix}")
        counts = {s: sum(1 for r in self.results if r.status == s) for s in Status}
        lines.append(f"{counts[Status.OK]} ok, {counts[Status.WARN]} warn, {counts[Status.FAIL]} FAIL")
        return "\n".join(lines)


def run_checks(checks: Iterable[tuple[str, Check]]) -> Report:
    """Run every (area, check) in order; a check that raises is one FAIL line, and the rest still run."""
    results: list[CheckResult] = []
    for area, check in checks:
        try:
            results.extend(check())
        except Exception as exc:  # a doctor that dies on the first broken thing hides the others
            name = getattr(check, "__name__", "") or "check"
            name = "check" if name.startswith("<") else name  # a lambda says nothing
            results.append(fail(area, name, area, f"the check itself failed: {exc}", "fix the error above, rerun"))
    return Report(tuple(results))


@dataclass
class Doctor:
    """The wired checks (bot/bootstrap/doctor.py), in report order."""

    checks: list[tuple[str, Check]]
    clients_for: Callable[[str], Any] | None = None  # the AWS clients the checks use, for tests to watch

    def run(self) -> Report:
        return run_checks(self.checks)


class DoctorCommand:
    """/rds-doctor for chat surfaces: admins only (bot/authz.py), the report as text."""

    def __init__(self, authorizer: Authorizer, run: Callable[[], Report]) -> None:
        self.authorizer = authorizer
        self.run = run

    def answer(self, actor: str, email_lookup: Callable[[], str | None]) -> SlackText:
        """The report, or why not; escaped for chat (it quotes AWS errors and names from the policy)."""
        try:
            self.authorizer.check(Action.RUN_DOCTOR, actor, email_lookup)
        except Forbidden as exc:
            return mrkdwn("Refused: {}", exc.reason)
        return SlackText.escape(self.run().text())


# Checks that need only the policy.


def policy_consistency(policy: Policy) -> list[CheckResult]:
    """Regions, buckets, channels and drills agree with each other."""
    area = "settings"
    results = []
    for drill in policy.drills:
        bucket = drill.source.bucket or policy.backups.default_bucket
        region = policy.drill_region(drill)
        subject = f"drill {drill.name}"
        if bucket not in policy.backups.buckets:
            results.append(fail(area, "drill bucket", subject, f"{bucket} is not allowed", "add it to allowed_buckets"))
        elif region not in policy.region.allowed:
            results.append(fail(area, "drill region", subject, f"{region} not allowed", "add it to region.allowed"))
        elif not drill.report_channel:
            results.append(fail(area, "drill channel", subject, "no report channel", f"set drills.{drill.name}"))
        else:
            results.append(ok(area, "drill", subject, f"s3://{bucket} in {region}, reports to {drill.report_channel}"))
    if policy.audit.bucket and policy.audit.bucket in policy.backups.buckets:
        results.append(
            warn(
                area,
                "audit bucket",
                policy.audit.bucket,
                "is also a backup bucket: restore roles can read the audit trail",
                "name a separate bucket in audit.bucket",
            )
        )
    if not policy.approvals.channel:
        results.append(fail(area, "approvals channel", "approvals.channel", "empty", "set approvals.channel"))
    if policy.targets.replace_approvers is not None:
        results.append(
            warn(
                area,
                "deprecated key",
                DEPRECATED_REPLACE_APPROVERS,
                f"is the old name of approvals.replace_approvers (read as {policy.approvals.replace_approvers})",
                f"rename {DEPRECATED_REPLACE_APPROVERS} to approvals.replace_approvers",
            )
        )
    results.append(
        ok(
            area,
            "policy",
            f"regions {', '.join(policy.region.allowed)}",
            f"buckets {', '.join(policy.backups.buckets)}; approvals in {policy.approvals.channel}",
        )
    )
    return results


def cidr_widths(policy: Policy) -> list[CheckResult]:
    """No client CIDR wider than the policy's network.min_prefix_v4 / _v6; one the policy allows with
    network.allow_wide_cidrs is a warning, since it was meant."""
    results = []
    network_policy = policy.network
    for cidr in network_policy.allowed_cidrs:
        network = ipaddress.ip_network(cidr, strict=False)
        widest = network_policy.min_prefix(network)
        if network.prefixlen < widest:
            report = warn if network_policy.allow_wide_cidrs else fail
            results.append(
                report(
                    "network",
                    "client CIDR",
                    cidr,
                    f"wider than /{widest}: {network.num_addresses} addresses may reach port 1433",
                    f"narrow network.allowed_cidrs to the client networks (/{widest} or narrower)",
                )
            )
    if not results:
        results.append(ok("network", "client CIDRs", ", ".join(network_policy.allowed_cidrs) or "none"))
    return results


def scope_coverage(granted: Iterable[str], required: Iterable[str], subject: str) -> CheckResult:
    """The token's OAuth scopes cover what the manifest declares; FAIL names each missing scope."""
    missing = sorted(set(required) - set(granted))
    if missing:
        return fail(
            "slack",
            "token scopes",
            subject,
            f"missing {', '.join(missing)}",
            f"add {', '.join(missing)} under OAuth & Permissions (or recreate from manifest.yml) and reinstall",
        )
    return ok("slack", "token scopes", subject, f"{len(set(required))} scopes of manifest.yml granted")
