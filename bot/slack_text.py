"""Text bound for Slack (mrkdwn), with every piece of outside text escaped exactly once. Pure.

Slack reads `&`, `<` and `>` as control characters in message text: `<!channel>` notifies a whole channel,
`<https://evil|prod.bak>` is a link that says something else, `<@U123>` a mention. Text that is not ours (backup
keys, names, reasons, errors that quote a request) must reach Slack with those three replaced by `&amp;`, `&lt;`
and `&gt;` and nothing else encoded (Slack doc "Formatting text for app surfaces", section "Escaping text").

`SlackText` is a `str` that says "already escaped": `SlackText.escape` leaves one alone (so nothing is escaped
twice, `&amp;` never becomes `&amp;amp;`), and a template's `format`, `join` and `+` escape every plain `str` they
are given, so a field cannot be forgotten. An f-string or `%` gives back a plain `str`, which type-checks nowhere
a `SlackText` is wanted. The console shows the same texts through `plain`, which undoes the escaping once.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Slack member ids: U (users), W (Enterprise Grid users), B (bots); anything else is shown as text, not mentioned.
_MEMBER_ID = re.compile(r"[UWB][A-Z0-9]{2,}")
_ENTITY_TAIL = re.compile(r"&[a-z]{0,3}$")


class SlackText(str):
    """Slack mrkdwn in which all outside text has been escaped exactly once."""

    __slots__ = ()

    @classmethod
    def escape(cls, text: object) -> SlackText:
        """Outside text made safe for Slack; a SlackText is returned as it is (never escaped twice)."""
        if isinstance(text, SlackText):
            return text
        raw = str(text)
        return cls(raw.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))

    def format(self, *args: object, **kwargs: object) -> SlackText:
        """This text as a template (ours, trusted): each field is escaped unless it is already a SlackText."""
        return SlackText(_FORMATTER.vformat(self, args, kwargs))

    def join(self, parts: Iterable[str]) -> SlackText:
        return SlackText(str.join(self, (SlackText.escape(part) for part in parts)))

    def __add__(self, other: str) -> SlackText:
        return SlackText(str.__add__(self, SlackText.escape(other)))

    def __radd__(self, other: str) -> SlackText:
        return SlackText(str.__add__(SlackText.escape(other), self))

    def clip(self, limit: int) -> SlackText:
        """At most `limit` characters, never ending inside an entity (`&am` would show as such)."""
        if len(self) <= limit:
            return self
        return SlackText(_ENTITY_TAIL.sub("", str.__getitem__(self, slice(0, limit))))

    def plain(self) -> str:
        """What a Slack reader sees, as plain text: the escaping undone once (the console prints this)."""
        return str(self).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class _EscapingFormatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        # Formatted first, escaped after: widths and alignment (`{:<12}`) count what a reader sees.
        if isinstance(value, SlackText):
            return format(str(value), format_spec)
        return SlackText.escape(format(value, format_spec))

    def vformat(self, format_string: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
        return super().vformat(str(format_string), args, kwargs)


_FORMATTER = _EscapingFormatter()


def mrkdwn(template: str, *args: object, **kwargs: object) -> SlackText:
    """`template` is ours (it may hold Slack markup); every argument is outside text, escaped unless SlackText."""
    return SlackText(template).format(*args, **kwargs)


def mention(user_id: str) -> SlackText:
    """`<@U123>` for a Slack member id; anything else (a console user name, a forged value) as escaped text."""
    return SlackText(f"<@{user_id}>") if _MEMBER_ID.fullmatch(user_id) else SlackText.escape(user_id)


def lines(parts: Iterable[str]) -> SlackText:
    """Lines joined by newlines; plain `str` lines are escaped, SlackText lines kept."""
    return SlackText("\n").join(parts)


def plain(text: str) -> str:
    """For surfaces that are not Slack (the console): SlackText unescaped once, plain text as it is."""
    return text.plain() if isinstance(text, SlackText) else text
