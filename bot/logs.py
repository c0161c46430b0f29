"""Structured logging: JSON lines in production, short text for humans; secrets are masked on the way out.

Two nets. By value: every secret the process knows (Slack tokens, the signing secret, the AWS secret access key,
each password it fetches) is registered with `mask_value` and masked wherever it appears, also in the escaped
forms a repr or a JSON document (possibly inside another JSON document, as in a JSON log line) gives it. By shape,
for what was never registered: Slack tokens, AWS secret access keys, and the value after anything calling itself a
password (pwd), secret or token, quoted in any of those ways (`{'password': ...}`, `{\\"password\\": \\"...\\"}`).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from datetime import UTC, datetime

MASK = "***"
# Shorter values would mask ordinary words; every secret rdsbot knows is far longer.
MIN_MASKED_LENGTH = 8

# A quote as it appears in text, in a repr, in JSON and in JSON inside JSON: ", ', \", \\\"
_QUOTE = r"""(?:\\{0,3}["'])"""
_NAMED = re.compile(
    rf"(?i)(?P<key>{_QUOTE}?[\w-]*(?:password|passwd|pwd|secret|token)[\w-]*{_QUOTE}?\s*[:=]\s*)"
    rf"(?:(?P<quote>{_QUOTE})(?P<quoted>.*?)(?P=quote)|(?P<bare>[^\s,;&}}\]\"'\\]+))"
)
_SHAPES = (
    # Slack: bot, user, app-level, configuration and rotating tokens (xoxb-, xoxp-, xoxa-, xoxe-, xoxe.xoxp-, ...).
    re.compile(r"\bxox[a-z](?:\.xox[a-z])?-[A-Za-z0-9-]+"),
    re.compile(r"\bxapp-[A-Za-z0-9-]+"),
    # An AWS secret access key: 40 base64 characters with upper case, lower case and a digit among them, alone
    # (a longer run, such as a SHA-256 hex digest, is something else).
    re.compile(
        r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]{0,39}[A-Z])(?=[A-Za-z0-9/+]{0,39}[a-z])(?=[A-Za-z0-9/+]{0,39}[0-9])"
        r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
    ),
)

_known_lock = threading.Lock()
_known: set[str] = set()
_known_pattern: re.Pattern[str] | None = None


def _escaped_forms(value: str) -> set[str]:
    """The value as text, in a repr, in JSON, and in JSON inside JSON (a JSON log line's escaped message)."""
    in_json = json.dumps(value)[1:-1]
    in_repr = repr(value)[1:-1]
    return {value, in_json, json.dumps(in_json)[1:-1], in_repr, json.dumps(in_repr)[1:-1]}


def mask_value(value: str | None) -> None:
    """Mask this secret in every log line from now on, in each of its escaped forms."""
    global _known_pattern
    if not value or len(value) < MIN_MASKED_LENGTH:
        return
    with _known_lock:
        _known.update(_escaped_forms(value))
        # Longest first, so a form is masked whole rather than one of its shorter forms inside it.
        forms = sorted(_known, key=len, reverse=True)
        _known_pattern = re.compile("|".join(re.escape(form) for form in forms))


def forget_masked_values() -> None:
    """Drop every registered value (tests)."""
    global _known_pattern
    with _known_lock:
        _known.clear()
        _known_pattern = None


def _named(match: re.Match[str]) -> str:
    quote = match["quote"] or ""
    return f"{match['key']}{quote}{MASK}{quote}"


def redact(text: str) -> str:
    """Mask the known secret values, then anything shaped like a secret."""
    known = _known_pattern
    if known is not None:
        text = known.sub(MASK, text)
    for shape in _SHAPES:
        text = shape.sub(MASK, text)
    return _NAMED.sub(_named, text)


_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str))


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(fmt: str = "json", level: str = "INFO") -> None:
    """Route the root logger to stderr in the chosen format; quiet the chatty libraries."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonLinesFormatter() if fmt == "json" else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug", "alembic", "moto"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
