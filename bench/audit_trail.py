"""What the audit trail costs: chained appends per second, shipping to S3 (a local moto server) in events per
second, and verifying a day of N events from the store and from S3.

    python -m bench.audit_trail                 # 2000 events, SQLite file store
    python -m bench.audit_trail --events 10000 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

The PostgreSQL URL must point at a scratch database: the bench creates and drops its own schema in it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import boto3
import sqlalchemy as sa
from moto.server import ThreadedMotoServer

from aws.audit_shipper import S3AuditSink, audit_s3_client
from bot.audit_outbox import AuditShipper, verify_store
from bot.clock import SystemClock
from bot.domain import AuditEvent
from bot.store import SqlStore

T = TypeVar("T")
BUCKET = "rdsbot-audit-bench"
DAY0 = datetime(2024, 11, 25, 0, 0, tzinfo=UTC)


def timed(run: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = run()
    return result, time.perf_counter() - started


def _schema_url(base: str) -> tuple[str, Callable[[], None]]:
    if not base.startswith("postgresql"):
        return base, lambda: None
    schema = f"rdsbot_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, poolclass=sa.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500, help="events per shipped object")
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary folder")
    args = parser.parse_args()

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # moto takes any credentials
        AWS_DEFAULT_REGION="us-east-1",
    )
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    with tempfile.TemporaryDirectory() as folder:
        url, drop = _schema_url(args.database_url or f"sqlite:///{folder}/bench.db")
        try:
            with SqlStore(url) as store:
                run(store, args.events, args.batch, url.split(":", 1)[0])
        finally:
            drop()
    server.stop()


def run(store: SqlStore, count: int, batch: int, backend: str) -> None:
    def append() -> None:
        for n in range(count):
            at = DAY0 + timedelta(seconds=n)
            detail = {"stage": "instance", "n": n, "aws_requests": [{"operation": "rds:CreateDBInstance"}]}
            store.audit.record_audit(
                [AuditEvent(at=at, actor="U0BOB", action="stage.succeeded", job_id="j1", detail=detail)]
            )

    shipper = AuditShipper(
        store.outbox,
        store.audit,
        store.jobs,
        S3AuditSink(audit_s3_client("us-east-1"), BUCKET),
        "bench",
        SystemClock(),
        batch,
    )
    _, appended = timed(append)
    shipped, shipping = timed(lambda: shipper.ship_pending(max_objects=10_000))
    checked, from_store = timed(lambda: verify_store(store.audit, "2024-11-25"))
    from_s3_check, from_s3 = timed(lambda: shipper.verify_s3("2024-11-25"))
    assert checked.ok and from_s3_check.ok and shipped == count == checked.events == from_s3_check.events
    print(f"backend {backend}, {count} events, {batch} per object")
    print(f"  append (one transaction each, chain head locked): {count / appended:8.0f} events/s")
    print(f"  ship to S3 (moto on loopback):                      {count / shipping:8.0f} events/s")
    print(f"  verify from the store:                              {from_store * 1000:8.1f} ms")
    print(f"  verify from S3:                                     {from_s3 * 1000:8.1f} ms")
    print(f"  verify per event (store):                           {from_store / count * 1e6:8.1f} µs")


if __name__ == "__main__":
    main()
