"""Who may do what: the one authorization filter every chat surface (Slack, the console) goes through.

Rules live here and nowhere else: approvers are admins (IAM group or Slack user group, via the directory port),
the two-person rule keeps a requester from approving their own request, the requester or an admin may cancel, keep
or delete a restore, and drills may be started by admins only.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from bot.domain import Job
from bot.errors import RdsbotError
from bot.ports import AdminDirectory, Identity
from config.policy_model import Policy


class Action(StrEnum):
    REQUEST = "request"
    APPROVE = "approve"
    DENY = "deny"
    RUN_DRILL = "run_drill"
    CANCEL = "cancel"
    RUN_DOCTOR = "run_doctor"
    KEEP_INSTANCE = "keep_instance"  # the reminder's "keep more" button
    DELETE_INSTANCE = "delete_instance"  # /rds-restore delete <job>
    READ_DEAD_LETTERS = "read_dead_letters"  # /rds-status dead-letters: what Slack refused, channel by channel


# What the requester may always do to their own restore, admin or not.
_REQUESTER_MAY = frozenset({Action.CANCEL, Action.KEEP_INSTANCE, Action.DELETE_INSTANCE})


class Forbidden(RdsbotError):
    """The actor may not do this; the message says why, in words fit for chat."""

    def __init__(self, reason: str, identity: Identity) -> None:
        self.reason = reason
        self.identity = identity
        super().__init__(reason)


class Authorizer:
    def __init__(self, directory: AdminDirectory, policy: Policy) -> None:
        self.directory = directory
        self.policy = policy

    def check(
        self, action: Action, actor: str, email_lookup: Callable[[], str | None], job: Job | None = None
    ) -> Identity:
        """The actor's identity when allowed; Forbidden otherwise."""
        if action == Action.REQUEST:
            return Identity(slack_user_id=actor, source="anyone may request")
        identity = self.directory.identify(actor, email_lookup)
        own_request = job is not None and job.requester == actor
        if action == Action.APPROVE and own_request and self.policy.approvals.two_person_rule:
            raise Forbidden("you requested this restore; another admin must approve it (two-person rule)", identity)
        if action in _REQUESTER_MAY and own_request:
            return identity  # a requester may always call off, keep or delete their own restore
        if not identity.is_admin:
            group = self.policy.approvals.admin_slack_usergroup or self.policy.approvals.admin_iam_group
            why = f" ({identity.source})" if identity.source else ""
            who = f"the requester or members of {group}" if action in _REQUESTER_MAY else f"members of {group}"
            raise Forbidden(f"only {who} may {action.value.replace('_', ' ')}{why}", identity)
        return identity
