"""The python-tds driver: opens an autocommit connection to an RDS SQL Server endpoint with the master login."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytds

from aws.native_restore.client import DbApiConnection, driver_message
from aws.native_restore.procedures import SqlConnectionError
from bot.domain import InstanceState

log = logging.getLogger(__name__)

DEFAULT_PORT = 1433
REDACTED = "********"
# SQL Server's numbers for a refused login: failed, locked, password expired, must change, untrusted domain.
_LOGIN_FAILED = {18456, 18486, 18487, 18488, 18452}


def tds_connector(
    credentials_for: Callable[[InstanceState], tuple[str, str]],
    timeout: float = 60.0,
    *,
    login_timeout: float = 15.0,
    database: str | None = "msdb",
    cafile: str | None = None,
    appname: str = "rdsbot",
) -> Callable[[InstanceState], DbApiConnection]:
    """A `connect(instance)` for SqlNativeRestore; `credentials_for` gives (user, password), e.g. from the RDS secret.

    `cafile` (the RDS CA bundle) turns on TLS with host validation; python-tds needs pyOpenSSL for it.
    """

    def connect(instance: InstanceState) -> DbApiConnection:
        host = instance.endpoint_address
        if not host:
            raise SqlConnectionError(f"instance {instance.instance_id} has no endpoint yet; wait until it is available")
        port = instance.endpoint_port or DEFAULT_PORT
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
            )
        except Exception as exc:  # socket, TLS and login failures all end here; none may carry the password out
            message = _redact(driver_message(exc), password)
            hint = _hint(exc, host, port, user)
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


def _hint(exc: Exception, host: str, port: int, user: str) -> str:
    if isinstance(exc, pytds.LoginError) or getattr(exc, "msg_no", 0) in _LOGIN_FAILED:
        return f"check the master user secret for {user}; RDS may have rotated it"
    if isinstance(exc, OSError):
        return f"check that the instance's security group lets this host reach {host} on port {port}"
    return "check the endpoint, the security group and the master user secret"
