"""Asking IAM about the role an --into instance's option group runs SQLSERVER_BACKUP_RESTORE as, when rdsbot does not
manage it: what refuses, what goes on the card as a warning, what to say when IAM cannot be asked. Shared by the TDE
import's check (bot/into_tde_role.py) and the plain restore's (bot/into_restore_role.py). Pure over the ports."""

from __future__ import annotations

from bot.ports import RoleGateway
from bot.role_needs import RoleNeeds

NO_ROLE = "an IAM_ROLE_ARN"


def _label(role: str) -> str:
    return f"{role} (the option group's role)"


def iam_gaps(
    roles: RoleGateway, role: str, needs: RoleNeeds, purpose: str, procedure: str, notes: list[str]
) -> tuple[str, ...] | None:
    """What IAM denies `role` of `needs` ("action on resource" each): refused by the caller. What only a key or bucket
    policy may grant becomes a note for the card (bot/role_evaluation.py). None when IAM cannot be asked."""
    gaps = roles.missing_permissions(role, needs)
    if gaps is None:
        return None
    if gaps.unconfirmed and not gaps.denied:
        notes.append(gaps.unconfirmed_note(_label(role), purpose, f"{procedure} fails after approval"))
    return gaps.denied


def unasked_note(role: str, needs: RoleNeeds, purpose: str, procedure: str) -> str:
    """The card's warning when IAM could not be asked: everything the role must allow, so an admin can check."""
    wanted = "; ".join(f"{', '.join(actions)} on {', '.join(on)}" for actions, on in needs.resources().items())
    return f"could not ask IAM whether {_label(role)} may {purpose}; {procedure} fails unless it allows {wanted}"
