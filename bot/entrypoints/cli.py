"""The `rdsbot` command."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from bot.audit_surface import AuditSurface, set_process_surface
from bot.entrypoints.audit_cli import add_audit_commands
from bot.errors import ConfigError
from bot.logs import configure_logging

if TYPE_CHECKING:
    from bot.bootstrap import Service


def package_version() -> str:
    """The installed distribution's version (pyproject.toml's, once installed)."""
    try:
        return version("rdsbot")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _demo(args: argparse.Namespace) -> int:
    from bot.entrypoints.console import run_demo

    configure_logging("text", "WARNING")
    return run_demo(restore_seconds=args.restore_seconds)


def _shell(args: argparse.Namespace) -> int:
    """The console: interactive on a terminal, a script when stdin is not one."""
    from bot.entrypoints.console import console_session
    from bot.entrypoints.shell import interactive, run_lines

    configure_logging("text", "WARNING")
    with console_session(print, sandbox=args.sandbox, restore_seconds=args.restore_seconds, user=args.user) as session:
        if sys.stdin.isatty():
            interactive(session)
        else:
            run_lines(session, sys.stdin, echo=True)
    return 0


def _worker(args: argparse.Namespace) -> int:
    """Run the engine alone: resume every unfinished job and keep polling (no chat)."""
    from bot.bootstrap import build, build_service
    from bot.notifiers import PrintNotifier
    from config.settings import load_settings, require_durable_database, require_policy_file

    settings = load_settings()
    require_policy_file(settings, "worker")
    require_durable_database(settings)
    configure_logging(settings.log_format, settings.log_level)
    app = build(settings)
    app.notifier.add(PrintNotifier())
    if args.once:
        app.engine.run_until_idle()
        # One lifecycle pass too: a worker run from cron reminds and deletes what is due, a pass per run.
        app.lifecycle.tick()
        return 0
    # The same loop as `serve`: engine leader election on PostgreSQL, the audit shipper beside it.
    return _run_until_signalled(build_service(app), settings.shutdown_seconds)


def _serve(args: argparse.Namespace) -> int:
    """Serve Slack: HTTP on --port behind waitress, or Socket Mode with SLACK_APP_TOKEN / --socket."""
    from bot.bootstrap import build, build_service, build_slack_app
    from config.settings import load_settings, require_durable_database, require_policy_file

    settings = load_settings()
    require_policy_file(settings, "serve")
    require_durable_database(settings)
    set_process_surface(AuditSurface.SLACK)
    configure_logging(settings.log_format, settings.log_level)
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token is not None else None
    if args.socket and app_token is None:
        raise ConfigError("--socket needs SLACK_APP_TOKEN (an xapp- token with connections:write)")
    app = build(settings)
    service = build_service(app, build_slack_app(app), port=args.port, app_token=app_token)
    return _run_until_signalled(service, settings.shutdown_seconds)


def _run_until_signalled(service: Service, grace_seconds: float) -> int:
    """Run until SIGTERM/SIGINT, then stop in order within `grace_seconds` and leave with the outcome."""
    from bot.entrypoints.lifecycle import Shutdown, exit_now

    shutdown = Shutdown(grace_seconds)
    shutdown.install()  # before anything starts: a SIGTERM during start-up is a clean stop too
    service.start()
    shutdown.wait()
    exit_now(shutdown.run(service.stop_steps()))
    return 0  # not reached


def _doctor(args: argparse.Namespace) -> int:
    """Read-only checks of settings, store, AWS account and Slack workspace: exit 0 when nothing failed, else 1."""
    import json

    from bot.bootstrap import build_doctor
    from config.settings import load_settings, require_policy_file

    settings = load_settings()
    require_policy_file(settings, "doctor")
    configure_logging("text", "ERROR")
    report = build_doctor(settings).run()
    print(json.dumps(report.as_json(), indent=2) if args.json else report.text())
    return report.exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rdsbot", description="Restore SQL Server backups from S3 onto RDS.")
    parser.add_argument("--version", action="version", version=f"rdsbot {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="a whole restore on the embedded sandbox")
    demo.add_argument("--restore-seconds", type=float, default=3.0, help="how long the sandbox restore takes")
    demo.set_defaults(run=_demo)
    shell = commands.add_parser("shell", help="talk to rdsbot in the terminal (sandbox by default)")
    shell.add_argument(
        "--sandbox",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="embedded moto + sandbox SQL Server (default), or --no-sandbox for real AWS",
    )
    shell.add_argument("--as", dest="user", default=None, help="start as this user (alice, bob, carol, or a Slack id)")
    shell.add_argument("--restore-seconds", type=float, default=3.0, help="how long the sandbox restore takes")
    shell.set_defaults(run=_shell)
    worker = commands.add_parser("worker", help="resume unfinished jobs and drive them to the end")
    worker.add_argument("--once", action="store_true", help="exit when no job is unfinished")
    worker.set_defaults(run=_worker)
    serve = commands.add_parser("serve", help="serve the Slack app (HTTP at POST /slack/events, or Socket Mode)")
    serve.add_argument("--port", type=int, default=None, help="HTTP port (default RDSBOT_PORT or 3000)")
    serve.add_argument("--socket", action="store_true", help="use Socket Mode (needs SLACK_APP_TOKEN)")
    serve.set_defaults(run=_serve)
    doctor = commands.add_parser("doctor", help="check the AWS account, Slack workspace and policy (read only)")
    doctor.add_argument("--json", action="store_true", help="the report as a JSON list of objects")
    doctor.set_defaults(run=_doctor)
    add_audit_commands(commands)
    args = parser.parse_args(argv)
    set_process_surface(AuditSurface.CLI)  # serve and the console say otherwise below
    try:
        return int(args.run(args))
    except ConfigError as exc:
        print(f"rdsbot: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
