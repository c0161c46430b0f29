"""`approvals`: who approves, where, for how long, and how many admins an `--into --replace` needs. Kept apart
from policy_model.py, which is at its size limit; so is the one deprecated key's reading."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from bot.strict_model import StrictModel

# The name approvals.replace_approvers had before the issue named it: still read, and the doctor warns.
DEPRECATED_REPLACE_APPROVERS = "targets.replace_approvers"


class ApprovalPolicy(StrictModel):
    admin_iam_group: str = "rds-admins"
    admin_slack_usergroup: str | None = None
    channel: str = "#rds-approvals"
    expiry_minutes: int = Field(60, ge=1, le=24 * 60)
    two_person_rule: bool = True
    # Every request must say why (--reason "..."), refused before the card otherwise; drills are exempt.
    require_reason: bool = False
    # How many admins (other than the requester) must approve an --into --replace, which drops a database.
    replace_approvers: int = Field(1, ge=1, le=2)


def adopt_deprecated_replace_approvers(data: Any) -> Any:
    """The raw policy with targets.replace_approvers read as approvals.replace_approvers; both given and different
    is an error (which one was meant?). The targets key stays, so the doctor can name it."""
    if not isinstance(data, dict):
        return data
    targets, approvals = data.get("targets"), data.get("approvals") or {}
    if not isinstance(targets, dict) or targets.get("replace_approvers") is None or not isinstance(approvals, dict):
        return data
    old, new = targets["replace_approvers"], approvals.get("replace_approvers")
    if new is not None and new != old:
        raise ValueError(
            f"approvals.replace_approvers is {new} but {DEPRECATED_REPLACE_APPROVERS} (its deprecated name) is "
            f"{old}; keep approvals.replace_approvers only"
        )
    return {**data, "approvals": {**approvals, "replace_approvers": old}}
