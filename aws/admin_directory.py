"""Who may approve: Slack users mapped to IAM users by tag, and their membership of the admin IAM group.

A Slack user maps to the IAM user tagged `slack-user-id` = their Slack id, or failing that to the IAM user tagged
`email` = their Slack profile email. Anything ambiguous or unreadable answers "not an approver", with the reason.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aws.errors import aws_call
from bot.errors import AwsError
from bot.ports import Identity
from bot.tags import EMAIL as EMAIL_TAG, SLACK_USER_ID as SLACK_ID_TAG

log = logging.getLogger(__name__)

_K = TypeVar("_K")
_V = TypeVar("_V")


@dataclass(frozen=True)
class _UserIndex:
    """IAM user names by the Slack id and by the (lower-cased) email they are tagged with."""

    by_slack_id: dict[str, tuple[str, ...]] = field(default_factory=dict)
    by_email: dict[str, tuple[str, ...]] = field(default_factory=dict)
    slack_id_of: dict[str, str] = field(default_factory=dict)  # IAM user -> the Slack id it is pinned to


class _TtlCache(Generic[_K, _V]):
    """Values kept for `ttl_seconds`; safe to share between the Slack app's threads."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float]) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[_K, tuple[_V, float]] = {}
        self._lock = threading.Lock()
        # Loads run outside `_lock` so a fresh hit never waits on a slow AWS call, but one at a time, so a burst
        # of clicks on an approval card makes one set of calls rather than one per thread.
        self._loading = threading.Lock()

    def get(self, key: _K, load: Callable[[], _V]) -> _V:
        """The cached value for `key`, or `load()`'s, kept until the TTL passes; a failed load is not kept."""
        hit = self._fresh(key)
        if hit is not None:
            return hit[0]
        with self._loading:
            hit = self._fresh(key)  # another thread may have loaded it while this one waited
            if hit is not None:
                return hit[0]
            # Stamp before loading: the entry then never outlives the TTL counted from when its data was read.
            started = self._clock()
            value = load()
            with self._lock:
                self._entries[key] = (value, started + self._ttl)
            return value

    def _fresh(self, key: _K) -> tuple[_V] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and self._clock() < entry[1]:
                return (entry[0],)
            return None


class IamAdminDirectory:
    """AdminDirectory over IAM user tags and the admin IAM group.

    Needs `iam:GetAccountAuthorizationDetails` and `iam:ListGroupsForUser`. A failed AWS call never raises out of
    `identify`: it answers a non-admin Identity whose source starts "could not check IAM", so an outage refuses
    approvals with a reason the approver can read, and the caller has one path, not two.
    """

    def __init__(
        self,
        iam_client: Any,
        group_name: str,
        ttl_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._iam = iam_client
        self._group = group_name
        self._index: _TtlCache[None, _UserIndex] = _TtlCache(ttl_seconds, clock)
        self._groups: _TtlCache[str, frozenset[str]] = _TtlCache(ttl_seconds, clock)

    def identify(self, slack_user_id: str, email_lookup: Callable[[], str | None]) -> Identity:
        """The IAM user behind a Slack user and whether it is in the admin group; any doubt answers not admin."""
        try:
            index = self._index.get(None, self._load_index)
        except AwsError as exc:
            return self._unchecked(slack_user_id, None, exc)

        mapped = self._map(slack_user_id, index, email_lookup)
        if isinstance(mapped, Identity):
            return mapped
        iam_user, how = mapped

        try:
            groups = self._groups.get(iam_user, lambda: self._load_groups(iam_user))
        except AwsError as exc:
            return self._unchecked(slack_user_id, iam_user, exc)
        # IAM group names are unique regardless of case, so "RDS-Admins" in config names the group rds-admins.
        is_admin = self._group.casefold() in groups
        verdict = "is a member" if is_admin else "is not a member"
        return Identity(
            slack_user_id=slack_user_id,
            iam_user=iam_user,
            is_admin=is_admin,
            source=f"{how}: IAM user {iam_user} {verdict} of {self._group}",
        )

    def slack_mapping(self) -> dict[str, str]:
        """IAM user -> the tag mapping it to a Slack user (`slack-user-id U0..`, `email a@b`); AwsError on failure."""
        index = self._index.get(None, self._load_index)
        mapping = {user: f"{SLACK_ID_TAG} {slack_id}" for user, slack_id in index.slack_id_of.items()}
        for email, users in index.by_email.items():
            for user in users:
                mapping.setdefault(user, f"{EMAIL_TAG} {email}")
        return mapping

    def _map(
        self, slack_user_id: str, index: _UserIndex, email_lookup: Callable[[], str | None]
    ) -> tuple[str, str] | Identity:
        """(IAM user, how it was mapped), or the non-admin Identity that explains why there is none."""
        claims = index.by_slack_id.get(slack_user_id.strip().upper(), ())
        if len(claims) == 1:
            return claims[0], f"tag {SLACK_ID_TAG}"
        if claims:
            return self._refuse(
                slack_user_id, f"{SLACK_ID_TAG} {slack_user_id} is claimed by IAM users {', '.join(claims)}"
            )

        try:
            email = email_lookup()
        except Exception as exc:
            # The lookup is the caller's code (a Slack users.info call) with the caller's errors; whatever it
            # raises, the answer is "not an approver", and the reason is kept for the person who clicked.
            log.warning("could not look up the Slack email of %s: %s", slack_user_id, exc)
            return _not_admin(slack_user_id, f"could not look up the Slack profile email: {exc}")
        email = (email or "").strip().lower()
        if not email:
            return _not_admin(
                slack_user_id,
                f"no IAM user is tagged {SLACK_ID_TAG}={slack_user_id} and the Slack profile has no email",
            )

        claims = index.by_email.get(email, ())
        if not claims:
            return _not_admin(
                slack_user_id, f"no IAM user is tagged {SLACK_ID_TAG}={slack_user_id} or {EMAIL_TAG}={email}"
            )
        if len(claims) > 1:
            return self._refuse(slack_user_id, f"{EMAIL_TAG} {email} is claimed by IAM users {', '.join(claims)}")
        pinned = index.slack_id_of.get(claims[0])
        if pinned is not None:
            # The IAM user names its Slack user explicitly, and it is someone else: the explicit tag wins over a
            # shared or recycled email address.
            return self._refuse(
                slack_user_id, f"{EMAIL_TAG} {email} matches IAM user {claims[0]}, which is tagged for {pinned}"
            )
        return claims[0], f"tag {EMAIL_TAG}"

    def _refuse(self, slack_user_id: str, reason: str) -> Identity:
        log.warning("not treating %s as an approver: %s", slack_user_id, reason)
        return _not_admin(slack_user_id, f"{reason}; refusing to guess, fix the IAM user tags")

    def _unchecked(self, slack_user_id: str, iam_user: str | None, exc: AwsError) -> Identity:
        log.warning("could not check IAM for %s: %s", slack_user_id, exc)
        return Identity(
            slack_user_id=slack_user_id, iam_user=iam_user, is_admin=False, source=f"could not check IAM: {exc}"
        )

    def _load_index(self) -> _UserIndex:
        # One paginated call brings every user with its tags; ListUsers does not return tags, which would mean
        # one ListUserTags call per user.
        by_slack_id: dict[str, list[str]] = {}
        by_email: dict[str, list[str]] = {}
        slack_id_of: dict[str, str] = {}
        with aws_call("GetAccountAuthorizationDetails"):
            pages = self._iam.get_paginator("get_account_authorization_details").paginate(Filter=["User"])
            users = [user for page in pages for user in page.get("UserDetailList", [])]
        for user in users:
            name = str(user["UserName"])
            tags = {str(t["Key"]): str(t["Value"]) for t in user.get("Tags", [])}
            # Tag values are typed by hand in the console: stray spaces and case are not meaningful in either.
            slack_id = tags.get(SLACK_ID_TAG, "").strip().upper()
            email = tags.get(EMAIL_TAG, "").strip().lower()
            if slack_id:
                by_slack_id.setdefault(slack_id, []).append(name)
                slack_id_of[name] = slack_id
            if email:
                by_email.setdefault(email, []).append(name)
        return _UserIndex(
            by_slack_id={k: tuple(sorted(v)) for k, v in by_slack_id.items()},
            by_email={k: tuple(sorted(v)) for k, v in by_email.items()},
            slack_id_of=slack_id_of,
        )

    def _load_groups(self, iam_user: str) -> frozenset[str]:
        with aws_call("ListGroupsForUser"):
            pages = self._iam.get_paginator("list_groups_for_user").paginate(UserName=iam_user)
            return frozenset(str(g["GroupName"]).casefold() for page in pages for g in page.get("Groups", []))


def _not_admin(slack_user_id: str, source: str) -> Identity:
    return Identity(slack_user_id=slack_user_id, iam_user=None, is_admin=False, source=source)
