"""The python-tds driver: opens an autocommit connection to an RDS SQL Server endpoint with the master login,
over TLS verified against the RDS CA bundle unless TLS is explicitly off.

python-tds turns TLS on only when given `cafile` (a PEM bundle), checks the certificate's host name when
`validate_host` is true, and encrypts the login alone with `enc_login_only`; it needs pyOpenSSL for any of it
(python-tds API docs, pytds.connect). RDS signs every instance's certificate, whose name is the endpoint, with a CA
in the global bundle at truststore.pki.rds.amazonaws.com (RDS user guide, "UsingWithRDS.SSL").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytds
from pytds import tls as pytds_tls

from aws.native_restore.client import SQL_SERVER_PORT, DbApiConnection, driver_message, unreachable_hint
from aws.native_restore.procedures import SqlConnectionError
from bot.domain import InstanceState
from bot.errors import ConfigError

log = logging.getLogger(__name__)

RDS_GLOBAL_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
REDACTED = "********"
# SQL Server's numbers for a refused login: failed, locked, password expired, must change, untrusted domain.
_LOGIN_FAILED = {18456, 18486, 18487, 18488, 18452}


def tds_connector(
    credentials_for: Callable[[InstanceState], tuple[str, str]],
    timeout: float = 60.0,
    *,
    login_timeout: float = 15.0,
    database: str | None = "msdb",
    cafile: str | None,
    appname: str = "rdsbot",
) -> Callable[[InstanceState], DbApiConnection]:
    """A `connect(instance)` for SqlNativeRestore; `credentials_for` gives (user, password), e.g. from the RDS secret.

    `cafile` (the RDS CA bundle, see `tls_cafile`) encrypts the whole session and checks the certificate against the
    endpoint's host name; None, asked for explicitly, sends the login and every statement in plaintext.
    """

    def connect(instance: InstanceState) -> DbApiConnection:
        host = instance.endpoint_address
        if not host:
            raise SqlConnectionError(f"instance {instance.instance_id} has no endpoint yet; wait until it is available")
        port = instance.endpoint_port or SQL_SERVER_PORT
        user, password = credentials_for(instance)
        log.info("connecting to SQL Server", extra={"instance": instance.instance_id, "host": host, "port": port})
        try:
            connection: DbApiConnection = pytds.connect(
                dsn=host,
                port=port,
                database=database,
                user=user,
                password=password,
                # The rds_ procedures refuse to run inside a transaction; without autocommit pytds opens one.
                autocommit=True,
                timeout=timeout,
                login_timeout=login_timeout,
                appname=appname,
                cafile=cafile,
                validate_host=True,
                # The whole session, not only the login: the statements name buckets, keys and databases.
                enc_login_only=False,
            )
        except Exception as exc:  # socket, TLS and login failures all end here; none may carry the password out
            message = _redact(driver_message(exc), password)
            hint = _hint(exc, instance, user)
            # from None: the chained original could show the password in a traceback or its locals.
            raise SqlConnectionError(
                f"cannot connect to SQL Server at {host}:{port} as {user}: {message}; {hint}"
            ) from None
        return connection

    return connect


def _redact(text: str, password: str) -> str:
    if not password:
        return text
    for form in {password, repr(password)[1:-1]}:
        text = text.replace(form, REDACTED)
    return text


def _hint(exc: Exception, instance: InstanceState, user: str) -> str:
    if isinstance(exc, pytds.LoginError) or getattr(exc, "msg_no", 0) in _LOGIN_FAILED:
        return f"check the master user secret for {user}; RDS may have rotated it"
    if isinstance(exc, OSError):
        return unreachable_hint(instance)
    if "certificate" in driver_message(exc).lower():
        return f"check that RDSBOT_SQLSERVER_CA_FILE holds the RDS CA bundle ({RDS_GLOBAL_BUNDLE_URL})"
    return "check the endpoint, the security group and the master user secret"


def tls_cafile(tls: bool, cafile: Path | None) -> str | None:
    """The CA bundle the tds driver verifies RDS with, checked at start; None only when TLS is off, with a warning."""
    if not tls:
        log.warning(
            "TLS to SQL Server is off (RDSBOT_SQLSERVER_TLS=off): the master login and every statement cross the "
            "network in plaintext; unset it and set RDSBOT_SQLSERVER_CA_FILE to the RDS CA bundle"
        )
        return None
    if cafile is None:
        raise ConfigError(
            "RDSBOT_SQLSERVER_CA_FILE is not set: TLS to SQL Server is on and needs the RDS CA bundle; download "
            f"{RDS_GLOBAL_BUNDLE_URL} and point RDSBOT_SQLSERVER_CA_FILE at it (the Docker image does), or set "
            "RDSBOT_SQLSERVER_TLS=off to send the login in plaintext"
        )
    if not cafile.is_file():
        raise ConfigError(f"RDSBOT_SQLSERVER_CA_FILE: {cafile} is not a file; download {RDS_GLOBAL_BUNDLE_URL}")
    if not pytds_tls.OPENSSL_AVAILABLE:
        raise ConfigError("RDSBOT_SQLSERVER_CA_FILE is set but pyOpenSSL is missing; install rdsbot's dependencies")
    try:
        # What pytds.connect does with it: fails here, at start, on a file that is not a PEM bundle.
        pytds_tls.create_context(str(cafile))
    except Exception as exc:  # OpenSSL's error tree; its words name the problem
        raise ConfigError(f"RDSBOT_SQLSERVER_CA_FILE: {cafile} is not a PEM CA bundle ({exc})") from None
    return str(cafile)
