"""What IAM's answer about a role rdsbot does not manage means for a request. Pure.

iam:SimulatePrincipalPolicy evaluates only the role's own policies: a resource-based policy is simulated for IAM
users only (IAM API reference "SimulatePrincipalPolicy", ResourcePolicy), so a KMS key policy or an S3 bucket policy
granting the role never shows. AWS documents exactly such setups: the role of a TDE import "must be both a user and
an administrator of the KMS key" (AWS guide "TDE.BackupRestoreRDS", prerequisites), which the key policy normally
grants (AWS KMS guide "key-policy-default-allow-users"). So only an explicit deny refuses; an implicit deny on a KMS
action or on an S3 bucket or object is something rdsbot could not confirm, and says so on the card. An implicit deny
where no resource policy applies (s3:ListAllMyBuckets on *) still refuses."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

ALLOWED = "allowed"  # EvalDecision values (IAM API reference "EvaluationResult")
IMPLICIT_DENY = "implicitDeny"
EXPLICIT_DENY = "explicitDeny"
_S3_RESOURCE = re.compile(r"arn:[a-z-]+:s3:::(?P<bucket>[^/]+)(/.*)?")


@dataclass(frozen=True)
class SimulatedPermission:
    """One EvaluationResult of iam:SimulatePrincipalPolicy."""

    action: str
    resource: str
    decision: str  # EvalDecision: allowed, explicitDeny or implicitDeny

    @property
    def text(self) -> str:
        return f"{self.action} on {self.resource}"


def granted_elsewhere(action: str, resource: str) -> str | None:
    """The resource policy that may grant `action` on `resource` to a role whose own policies do not, or None."""
    if action.lower().startswith("kms:"):
        return f"the key policy of {resource}"
    s3 = _S3_RESOURCE.fullmatch(resource)
    if s3 and action.lower().startswith("s3:"):
        return f"the bucket policy of {s3['bucket']}"
    return None


@dataclass(frozen=True)
class RoleGaps:
    """What a simulation of a role's own policies found short of what a request needs ("action on resource" each)."""

    denied: tuple[str, ...] = ()  # explicitly denied, or denied where no resource policy can grant it: refuse
    unconfirmed: tuple[str, ...] = ()  # implicitly denied where a key or bucket policy may grant it: warn
    granted_where: tuple[str, ...] = ()  # the key and bucket policies that may grant the unconfirmed ones

    @classmethod
    def from_simulation(cls, results: Iterable[SimulatedPermission]) -> RoleGaps:
        denied: list[str] = []
        unconfirmed: list[str] = []
        where: list[str] = []
        for result in results:
            if result.decision == ALLOWED:
                continue
            elsewhere = granted_elsewhere(result.action, result.resource)
            # Any decision but implicitDeny (explicitDeny, or one IAM adds later) refuses: never read as allowed.
            if result.decision == IMPLICIT_DENY and elsewhere is not None:
                unconfirmed.append(result.text)
                where.append(elsewhere)
            else:
                denied.append(result.text)
        return cls(tuple(denied), tuple(unconfirmed), tuple(dict.fromkeys(where)))

    def unconfirmed_note(self, role_arn: str, purpose: str, failure: str) -> str:
        """The card's warning line: what rdsbot could not confirm, where it may be granted, and what fails if not."""
        return (
            f"rdsbot could not confirm that {role_arn} may {purpose}: its own IAM policies do not allow "
            f"{'; '.join(self.unconfirmed)}, which {' or '.join(self.granted_where)} may grant (IAM's simulation "
            f"cannot read key or bucket policies); if none does, {failure}"
        )
