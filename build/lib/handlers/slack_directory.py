"""Who may approve, by membership of a Slack user group (the alternative to the admin IAM group)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.ports import Identity

log = logging.getLogger(__name__)

# Slack user group ids look like S0614TZR7, all upper case; handles are written in lower case in practice, so an
# upper-case word starting with S is taken as an id and used without listing the groups.
_USERGROUP_ID = re.compile(r"^S[0-9A-Z]+$")


class UsergroupsClient(Protocol):
    """The two Web API methods used, as slack_sdk's WebClient spells them."""

    def usergroups_list(self, **kwargs: Any) -> Any: ...

    def usergroups_users_list(self, *, usergroup: str, **kwargs: Any) -> Any: ...


class SlackUsergroupDirectory:
    """AdminDirectory over a Slack user group, given by handle (`rds-admins`, `@rds-admins`) or id (`S0123ABCD`).

    Needs the `usergroups:read` scope. A failed Slack call never raises out of `identify`: it answers a non-admin
    Identity whose source starts "could not check slack usergroup", so an outage refuses approvals, with a reason.
    """

    def __init__(
        self,
        web_client: UsergroupsClient,
        usergroup: str,
        ttl_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = web_client
        self._usergroup = usergroup.strip().removeprefix("@")
        self._ttl = ttl_seconds
        self._clock = clock
        self._members: frozenset[str] | None = None
        self._expires = 0.0
        self._lock = threading.Lock()
        # Loads run outside `_lock` so a fresh hit never waits on Slack, but one at a time, so a burst of clicks
        # makes one pair of calls rather than one per thread.
        self._loading = threading.Lock()

    @property
    def label(self) -> str:
        """How the group is named in Identity.source and in messages."""
        return f"slack usergroup {self._usergroup}"

    def identify(self, slack_user_id: str, email_lookup: Callable[[], str | None]) -> Identity:
        """Whether the Slack user is in the user group; `email_lookup` is never needed here."""
        try:
            members = self._current_members()
        except (SlackClientError, OSError, _UsergroupNotFound) as exc:
            log.warning("could not check %s for %s: %s", self.label, slack_user_id, exc)
            return Identity(
                slack_user_id=slack_user_id, is_admin=False, source=f"could not check {self.label}: {_reason(exc)}"
            )
        return Identity(slack_user_id=slack_user_id, is_admin=slack_user_id in members, source=self.label)

    def members(self) -> frozenset[str]:
        """The group's member ids; raises SlackClientError, OSError, or a not-found error naming the handle."""
        return self._current_members()

    def _current_members(self) -> frozenset[str]:
        members = self._fresh()
        if members is not None:
            return members
        with self._loading:
            members = self._fresh()  # another thread may have loaded them while this one waited
            if members is not None:
                return members
            # Stamp before loading: the members are then never kept longer than the TTL from when they were read.
            started = self._clock()
            members = self._load_members()
            with self._lock:
                self._members, self._expires = members, started + self._ttl
            return members

    def _fresh(self) -> frozenset[str] | None:
        with self._lock:
            return self._members if self._members is not None and self._clock() < self._expires else None

    def _load_members(self) -> frozenset[str]:
        # The handle is resolved again on every load, not once: a group deleted and re-created under the same
        # handle gets a new id, and a stale id would keep answering with the old (disabled) group's members.
        group_id = self._usergroup if _USERGROUP_ID.match(self._usergroup) else self._resolve_handle()
        answer = self._client.usergroups_users_list(usergroup=group_id)
        return frozenset(str(user) for user in answer["users"])

    def _resolve_handle(self) -> str:
        answer = self._client.usergroups_list()
        for group in answer["usergroups"]:
            if str(group.get("handle", "")).casefold() == self._usergroup.casefold():
                return str(group["id"])
        raise _UsergroupNotFound(f"no enabled Slack user group has the handle @{self._usergroup}")


def _reason(exc: Exception) -> str:
    # SlackApiError's text spans lines and repeats the whole answer; Slack's error code is what a person can act on.
    if isinstance(exc, SlackApiError):
        return f"Slack answered {exc.response.get('error', 'an error')}"
    return str(exc)


class _UsergroupNotFound(Exception):
    """The configured handle names no enabled user group in the workspace."""
