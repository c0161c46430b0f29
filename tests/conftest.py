"""Fixtures shared by every test folder. AWS tests talk HTTP to one moto server, reset before each test.

moto, boto3 and botocore are imported inside the fixtures, so the unit tests (which use none of them) run without
loading them (tests/unit/test_decisions.py checks it)."""

from __future__ import annotations

import logging
import os
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from aws.clients import AwsClients


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """The URL of a moto server on a free local port, started once per test session."""
    from moto.server import ThreadedMotoServer

    from aws.sandbox.moto_rules import apply_aws_rules

    apply_aws_rules()  # as strict as AWS where rdsbot depends on it (the embedded sandbox does the same)
    # One access-log line per request would bury a failing test's own output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def _service_models() -> Any:
    """botocore's service-model loader, shared so each test's clients skip re-reading the JSON models."""
    import botocore.loaders

    return botocore.loaders.create_loader()


@pytest.fixture
def aws(moto_server: str, _service_models: Any, monkeypatch: pytest.MonkeyPatch) -> AwsClients:
    """Clients in us-east-1 pointed at a freshly reset moto server through the standard AWS_* variables."""
    import boto3
    import botocore.session

    from aws.clients import make_clients

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")).close()
    # Drop every AWS_* variable (profiles, per-service endpoints, tokens) so a developer's setup cannot leak in.
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # ~/.aws/config could still name a profile's endpoint or region; read none.
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    # A fresh session reads the variables above; only the parsed service models are reused.
    core = botocore.session.Session()
    core.register_component("data_loader", _service_models)
    return make_clients("us-east-1", boto3.Session(botocore_session=core))


@pytest.fixture(autouse=True)
def _no_process_surface_left_behind() -> Iterator[None]:
    """A test that runs an entry point in-process (`cli.main`, the console) sets the process's audit surface; the
    next test must start without it, or its events would claim a surface they never came in through."""
    from bot.audit_surface import set_process_surface

    yield
    set_process_surface(None)
