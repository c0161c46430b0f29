"""The python-tds driver: autocommit connections to the instance endpoint, and a password that never leaks."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytds
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from aws.native_restore import SqlConnectionError, SqlNativeRestore, tds_connector
from aws.native_restore.tds import RDS_GLOBAL_BUNDLE_URL, tls_cafile
from bot.bootstrap import build
from bot.domain import InstanceState
from bot.errors import ConfigError
from config.settings import Settings

CA = "/etc/rdsbot/rds-global-bundle.pem"
PASSWORD = "S3cr3t'pa$$ word"
INSTANCE = InstanceState(
    instance_id="restore-prod",
    status="available",
    instance_class="db.m5.large",
    endpoint_address="restore-prod.abc.us-east-1.rds.amazonaws.com",
    endpoint_port=14330,
)


class FakeCursor:
    description = (("task_id", 1, None, None, None, None, None),)

    def execute(self, operation, params):
        self.executed = (operation, params)

    def fetchall(self):
        return [(17,)]

    def nextset(self):
        return None

    def close(self):
        pass


class FakeConnection:
    autocommit = True

    def cursor(self):
        return FakeCursor()

    def close(self):
        pass


@pytest.fixture
def captured(monkeypatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def connect(**kwargs):
        calls.append(kwargs)
        return FakeConnection()

    monkeypatch.setattr(pytds, "connect", connect)
    return calls


def credentials(instance: InstanceState) -> tuple[str, str]:
    return "rdsadmin_restore", PASSWORD


def failing_with(monkeypatch, error: Exception) -> None:
    def connect(**kwargs):
        raise error

    monkeypatch.setattr(pytds, "connect", connect)


def test_connects_to_the_endpoint_and_port_with_autocommit(captured):
    tds_connector(credentials, cafile=CA)(INSTANCE)
    [kwargs] = captured
    assert kwargs["autocommit"] is True
    assert kwargs["dsn"] == "restore-prod.abc.us-east-1.rds.amazonaws.com" and kwargs["port"] == 14330
    assert kwargs["user"] == "rdsadmin_restore" and kwargs["password"] == PASSWORD
    assert kwargs["database"] == "msdb"
    assert "server" not in kwargs  # deprecated in python-tds 1.17 in favour of dsn


def test_port_defaults_to_1433_and_options_pass_through(captured):
    connect = tds_connector(credentials, 5.0, login_timeout=3.0, database=None, cafile="/etc/rds-ca.pem")
    connect(INSTANCE.model_copy(update={"endpoint_port": None}))
    [kwargs] = captured
    assert kwargs["port"] == 1433 and kwargs["timeout"] == 5.0 and kwargs["login_timeout"] == 3.0
    assert kwargs["database"] is None and kwargs["cafile"] == "/etc/rds-ca.pem" and kwargs["validate_host"] is True


def test_credentials_are_asked_for_the_instance_being_connected(captured):
    asked: list[str] = []

    def credentials_for(instance: InstanceState) -> tuple[str, str]:
        asked.append(instance.instance_id)
        return "admin", "pw"

    tds_connector(credentials_for, cafile=CA)(INSTANCE)
    assert asked == ["restore-prod"]


def test_an_instance_without_an_endpoint_is_refused_before_fetching_credentials(captured):
    def credentials_for(instance: InstanceState) -> tuple[str, str]:
        raise AssertionError("the secret must not be read for an instance that cannot be reached")

    with pytest.raises(SqlConnectionError, match="restore-prod has no endpoint yet"):
        tds_connector(credentials_for, cafile=CA)(INSTANCE.model_copy(update={"endpoint_address": None}))
    assert captured == []


def test_a_login_failure_message_names_the_login_but_never_the_password(monkeypatch):
    error = pytds.LoginError(f"Login failed for user 'rdsadmin_restore' (password {PASSWORD})")
    failing_with(monkeypatch, error)
    with pytest.raises(SqlConnectionError) as raised:
        tds_connector(credentials, cafile=CA)(INSTANCE)
    message = str(raised.value)
    assert PASSWORD not in message and "S3cr3t" not in message
    assert "restore-prod.abc.us-east-1.rds.amazonaws.com:14330" in message and "rdsadmin_restore" in message
    assert "check the master user secret" in message
    # No chained original to print the password in a traceback.
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_a_login_refused_by_number_gets_the_secret_hint(monkeypatch):
    error = pytds.OperationalError("Login failed for user 'rdsadmin_restore'.")
    error.msg_no = 18456
    failing_with(monkeypatch, error)
    with pytest.raises(SqlConnectionError, match="check the master user secret"):
        tds_connector(credentials, cafile=CA)(INSTANCE)


def test_an_unreachable_endpoint_names_the_instances_security_group_and_port(monkeypatch):
    failing_with(monkeypatch, TimeoutError("timed out"))
    with pytest.raises(SqlConnectionError, match="timed out; check that security group sg-0abc") as raised:
        tds_connector(credentials, cafile=CA)(INSTANCE.model_copy(update={"security_group_ids": ("sg-0abc",)}))
    assert "admits tcp/14330 from where rdsbot runs (network.bot_sources)" in str(raised.value)


# TLS: python-tds encrypts only when given `cafile`, checks the host name with validate_host, and would encrypt the
# login alone with enc_login_only (python-tds API docs, pytds.connect; RDS user guide "UsingWithRDS.SSL").


def test_tls_verifies_the_rds_ca_and_host_name_and_encrypts_the_whole_session(captured):
    tds_connector(credentials, cafile=CA)(INSTANCE)
    [kwargs] = captured
    assert kwargs["cafile"] == CA
    assert kwargs["validate_host"] is True and kwargs["enc_login_only"] is False


def test_plaintext_only_when_asked_for_with_no_ca_file(captured):
    tds_connector(credentials, cafile=None)(INSTANCE)
    assert captured[0]["cafile"] is None


def test_a_certificate_failure_points_at_the_ca_setting(monkeypatch):
    failing_with(monkeypatch, pytds.Error("Certificate does not match host name 'x'"))
    with pytest.raises(SqlConnectionError, match="check that RDSBOT_SQLSERVER_CA_FILE holds the RDS CA bundle"):
        tds_connector(credentials, cafile=CA)(INSTANCE)


def test_tls_off_is_allowed_only_with_a_warning(caplog):
    caplog.set_level(logging.WARNING)
    assert tls_cafile(False, None) is None
    assert "RDSBOT_SQLSERVER_TLS=off" in caplog.text and "plaintext" in caplog.text


def test_tls_on_without_a_ca_file_stops_the_start_naming_the_setting():
    with pytest.raises(ConfigError, match="RDSBOT_SQLSERVER_CA_FILE is not set") as raised:
        tls_cafile(True, None)
    assert RDS_GLOBAL_BUNDLE_URL in str(raised.value) and "RDSBOT_SQLSERVER_TLS=off" in str(raised.value)


def test_a_ca_file_that_is_missing_or_not_pem_stops_the_start(tmp_path):
    with pytest.raises(ConfigError, match="is not a file"):
        tls_cafile(True, tmp_path / "missing.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ConfigError, match="is not a PEM CA bundle"):
        tls_cafile(True, junk)


def test_a_pem_bundle_is_accepted(tmp_path):
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(self_signed_pem())
    assert tls_cafile(True, bundle) == str(bundle)


def test_the_bot_does_not_start_on_the_tds_driver_without_a_ca_file(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'rdsbot.db'}", sqlserver_driver="tds")
    with pytest.raises(ConfigError, match="RDSBOT_SQLSERVER_CA_FILE"):
        build(settings)
    assert not (tmp_path / "rdsbot.db").exists()  # refused before anything was opened


def self_signed_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test RDS Root CA")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def test_the_password_is_never_logged(captured, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    tds_connector(credentials, cafile=CA)(INSTANCE)
    failing_with(monkeypatch, pytds.LoginError(f"bad password {PASSWORD}"))
    with pytest.raises(SqlConnectionError):
        tds_connector(credentials, cafile=CA)(INSTANCE)
    logged = caplog.text + "".join(str(record.__dict__) for record in caplog.records)
    assert PASSWORD not in logged


def test_the_client_over_the_tds_driver_starts_a_restore(captured):
    client = SqlNativeRestore(tds_connector(credentials, cafile=CA))
    assert client.start_restore(INSTANCE, "Prod", "arn:aws:s3:::team-backups/prod.bak") == 17
    assert captured[0]["autocommit"] is True


def test_the_client_over_the_tds_driver_reports_a_failed_login_without_the_password(monkeypatch):
    failing_with(monkeypatch, pytds.LoginError(f"Login failed; password was {PASSWORD}"))
    client = SqlNativeRestore(tds_connector(credentials, cafile=CA))
    with pytest.raises(SqlConnectionError) as raised:
        client.task_status(INSTANCE, 1)
    assert PASSWORD not in str(raised.value) and "Login failed" in str(raised.value)
