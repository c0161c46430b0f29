"""`rdsbot audit verify|ship`: check a day's hash chain in the store or in S3; ship waiting events now."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from bot.audit_outbox import parse_day, today, verify_store
from bot.errors import ConfigError

BROKEN = 1


def add_audit_commands(commands: Any) -> None:
    """Add `audit` and its subcommands to the `rdsbot` argument parser's subcommands."""
    audit = commands.add_parser("audit", help="rdsbot's own audit trail: verify its hash chain, ship it to S3")
    actions = audit.add_subparsers(dest="audit_command", required=True)
    verify = actions.add_parser("verify", help="check one UTC day's hash chain; exit 1 naming the first broken link")
    verify.add_argument("--day", type=_day, default=None, help="YYYY-MM-DD (UTC), default today")
    verify.add_argument("--from-s3", action="store_true", help="check the shipped objects instead of the store")
    verify.set_defaults(run=_verify)
    ship = actions.add_parser("ship", help="ship every waiting audit event to S3 now")
    ship.set_defaults(run=_ship)


def _day(text: str) -> str:
    try:
        return parse_day(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day like 2024-11-25") from None


def _verify(args: argparse.Namespace) -> int:
    return _with_app(lambda app: verify(app, args.day, from_s3=args.from_s3))


def _ship(args: argparse.Namespace) -> int:
    def ship(app: Any) -> int:
        if app.audit_shipper is None:
            raise ConfigError("the policy names no audit.bucket to ship to")
        shipped = app.audit_shipper.ship_pending()
        waiting = app.store.outbox.unshipped_audit_events()
        print(f"shipped {shipped} event(s); {waiting} still waiting")
        return 0 if waiting == 0 else BROKEN

    return _with_app(ship)


def verify(app: Any, day: str | None, *, from_s3: bool, write: Callable[[str], None] = print) -> int:
    """Check the day's chain and say so; 0 when intact, 1 when broken (the first broken link named)."""
    day = day or today(app.clock)
    if from_s3:
        if app.audit_shipper is None:
            raise ConfigError("--from-s3 needs audit.bucket in the policy")
        check = app.audit_shipper.verify_s3(day)
    else:
        check = verify_store(app.store.audit, day)
    write(("ok " if check.ok else "BROKEN ") + check.summary())
    return 0 if check.ok else BROKEN


def _with_app(run: Callable[[Any], int]) -> int:
    from bot.bootstrap import build
    from config.settings import load_settings

    app = build(load_settings(), sql_server=False)  # the trail only: no instance login, so no TLS settings needed
    try:
        return run(app)
    finally:
        app.close()
