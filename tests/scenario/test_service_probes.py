"""A running service as its operator sees it: /healthz, /readyz and /metrics over HTTP, on PostgreSQL reached
through a relay the test cuts to make the store unreachable."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from aws.clients import AwsClients
from aws.sandbox.moto_seed import SANDBOX_USERS, seed_sandbox
from bot.bootstrap import Service, build, build_service, build_slack_app
from bot.entrypoints.lifecycle import Shutdown
from config.policy_model import load_policy
from config.settings import Settings
from tests.integration.store_fixtures import postgres_schema
from tests.scenario.conftest import BOT_TOKEN
from tests.scenario.served_bot import write_policy
from tests.support.fake_slack import FakeSlackApi
from tests.support.slack_requests import SIGNING_SECRET
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import eventually


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


@pytest.fixture
def running(aws: AwsClients, tmp_path: Path) -> Iterator[tuple[str, TcpProxy, Service]]:
    policy = write_policy(tmp_path)
    seed_sandbox(load_policy(policy))
    users = {slack_id: f"{name}@example.com" for name, (slack_id, _) in SANDBOX_USERS.items()}
    with postgres_schema() as url, FakeSlackApi(users=users) as slack:
        real = sa.make_url(url)
        proxy = TcpProxy((real.host or "127.0.0.1", real.port or 5432))
        settings = Settings(
            config=policy,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=slack.base_url,
            database_url=real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
            sqlserver_driver="sandbox",
            poll_seconds=0.05,
        )
        app = build(settings)
        service = build_service(app, build_slack_app(app), port=0)
        service.start()
        # Ready once the engine loop has turned in its own thread, which a loaded machine may start late: until
        # then /readyz rightly says "not turned yet", so each test starts from a service that is ready.
        eventually(lambda: service.probes.readiness().ok, 30, "the service is ready")
        http = service.intake[-1]
        try:
            yield f"http://127.0.0.1:{http.port}", proxy, service  # type: ignore[union-attr]
        finally:
            assert Shutdown(grace_seconds=20).run(service.stop_steps()) in (0, 1)


@pytest.mark.postgres
def test_readyz_fails_when_the_store_is_unreachable_while_healthz_stays_alive(running):
    url, proxy, _ = running
    status, body = get(url + "/readyz")
    assert status == 200, body
    leader = json.loads(body)["leader"]
    assert leader["restore engine"] is True and "drill scheduler" in leader  # elected in its own thread, soon
    proxy.cut()
    status, body = get(url + "/readyz")
    assert status == 503 and "store unreachable" in json.loads(body)["checks"]["store"]
    assert get(url + "/healthz")[0] == 200  # a restart would not bring the database back
    metrics = get(url + "/metrics")
    assert metrics[0] == 200 and "rdsbot_store_up 0.0" in metrics[1]


@pytest.mark.postgres
def test_metrics_answer_prometheus_text_with_jobs_by_status(running):
    url, _, _ = running
    request = urllib.request.urlopen(url + "/metrics", timeout=10)
    text = request.read().decode()
    assert request.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE rdsbot_jobs gauge" in text and 'rdsbot_jobs{status="running"} 0.0' in text
    assert 'rdsbot_outbox_depth{outbox="slack"}' in text and 'rdsbot_outbox_depth{outbox="audit"}' in text


@pytest.mark.postgres
def test_a_stopping_service_reports_not_ready_and_lets_go_of_its_engine_lock(running):
    _, _, service = running
    elector = service.app.engine_elector
    assert elector is not None and elector.is_leader
    assert service.probes.readiness().ok
    steps = service.stop_steps()
    assert not service.probes.readiness().ok  # from the moment stopping begins
    assert Shutdown(grace_seconds=20).run(steps) == 0
    assert not elector.is_leader
