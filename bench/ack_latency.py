"""How fast signed slash commands are acknowledged under concurrent load (Slack allows 3 s).

    python -m bench.ack_latency                              # a bare Bolt app on waitress vs. Bolt's app.start()
    python -m bench.ack_latency --app mypkg.web:make_app     # the same bare app vs. yours, with the p99 ratio
    python -m bench.ack_latency --app bench.rdsbot_app:make_status_wsgi_app --command /rds-status --text "" \
        --concurrency 20 --target 1.3                        # /rds-status against the floor, met or not

Each server runs in its own process, so the load generator's threads do not share its GIL.
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import logging
import math
import multiprocessing
import os
import re
import socket
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any
from wsgiref.types import WSGIApplication

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from waitress.server import BaseWSGIServer, create_server

from tests.support.fake_slack import FakeSlackApi
from tests.support.slack_requests import EVENTS_PATH, SIGNING_SECRET, SignedRequest, slash_command

# A factory takes no arguments and reads SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and RDSBOT_SLACK_API_URL from the
# environment, which the bench points at itself; it returns a WSGI app or a Bolt App (wrapped for you).
AppFactory = Callable[[], WSGIApplication | App]

TOKEN = "xoxb-bench-token"
CONCURRENCY = (20, 50)
ROUNDS = 10
# Bolt holds a worker thread per request while it polls for ack() every 10 ms, so waitress's default of 4
# threads queues a burst; 16 roughly halves the p99 here (see bench/README.md).
WAITRESS_THREADS = 16
REQUEST_TIMEOUT = 10.0
WARM_UP_REQUESTS = 5
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Result:
    """Latency percentiles of the acknowledged requests, and how many requests got no 200."""

    p50_ms: float
    p99_ms: float
    errors: int
    requests: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)


# -- the apps under test (module-level so a spawned server process can import them) ------------------------------


def _ack_only(ack: Ack) -> None:
    ack()


def bare_bolt_app(process_before_response: bool = False) -> App:
    """A Bolt app whose only listener acknowledges any slash command."""
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["RDSBOT_SLACK_API_URL"])
    app = App(
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        client=client,
        process_before_response=process_before_response,
    )
    app.command(re.compile(r"^/"))(_ack_only)
    return app


def bare_wsgi_app() -> WSGIApplication:
    """The bare Bolt app behind slack_bolt.adapter.wsgi.SlackRequestHandler."""
    return SlackRequestHandler(bare_bolt_app())


def bare_inline_wsgi_app() -> WSGIApplication:
    """The bare app with process_before_response=True: the listener runs on the request thread, no ack polling."""
    return SlackRequestHandler(bare_bolt_app(process_before_response=True))


# -- server processes -------------------------------------------------------------------------------------------


def _quiet_child() -> None:
    # Boot banners, waitress's "task queue depth" warnings (expected under a burst) and Bolt's note that the
    # client's token wins over SLACK_BOT_TOKEN (set for --app factories) would garble the table; errors still show.
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    logging.getLogger().setLevel(logging.ERROR)


def _serve_wsgi(make_wsgi_app: AppFactory, threads: int, ready: Connection) -> None:
    _quiet_child()
    try:
        app = make_wsgi_app()
        wsgi = SlackRequestHandler(app) if isinstance(app, App) else app
        server = create_server(wsgi, host=HOST, port=0, threads=threads)
        assert isinstance(server, BaseWSGIServer)
        ready.send(int(server.getsockname()[1]))
    except BaseException:
        ready.send(traceback.format_exc())
        raise
    server.run()


def _serve_dev_server(port: int, ready: Connection) -> None:
    _quiet_child()
    try:
        app = bare_bolt_app()
    except BaseException:
        ready.send(traceback.format_exc())
        raise
    ready.send(port)
    app.start(port=port, http_server_logger_enabled=False)


def _free_port() -> int:
    # app.start() binds the port itself and does not say which it got for port 0, so pick one first.
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _wait_listening(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def _bench_environment(fake: FakeSlackApi) -> Iterator[None]:
    settings = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "RDSBOT_SLACK_API_URL": fake.base_url}
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _server_process(target: Callable[..., None], *args: Any) -> Iterator[int]:
    """Start `target(*args, ready)` in a fresh interpreter; yield the port it reports once it accepts connections."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=target, args=(*args, sender), daemon=True)
    process.start()
    sender.close()  # so a child that dies before reporting shows up as EOF here
    try:
        if not receiver.poll(60):
            raise RuntimeError("the server process did not report a port within 60 s")
        message = receiver.recv()
        if isinstance(message, str):
            raise RuntimeError(f"the server process failed to start:\n{message}")
        _wait_listening(message)
        yield int(message)
    finally:
        process.terminate()
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join()


# -- load -------------------------------------------------------------------------------------------------------


def _send(port: int, request: SignedRequest) -> float | str:
    """Latency in ms of one acknowledged request on a new connection, or what went wrong."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request("POST", EVENTS_PATH, request.body, {**request.headers, "Connection": "close"})
        response = connection.getresponse()
        response.read()
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__
    finally:
        connection.close()
    if response.status != 200:
        return f"HTTP {response.status}"
    return (time.perf_counter() - started) * 1000


def _percentile(ordered: Sequence[float], percent: float) -> float:
    if not ordered:
        return math.nan
    return ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1]  # nearest rank


def _load(port: int, fake: FakeSlackApi, concurrency: int, rounds: int, command: str, text: str) -> Result:
    def request(n: int) -> SignedRequest:
        return slash_command(command, text, response_url=fake.response_url(f"bench-{n}"))

    for n in range(WARM_UP_REQUESTS):  # first requests pay for auth.test and lazy imports
        _send(port, request(n))
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for round_number in range(rounds):
            barrier = threading.Barrier(concurrency)
            # Signed up front so signing is not timed; the barrier releases the whole burst at once.
            burst = [request((round_number + 1) * 1000 + n) for n in range(concurrency)]

            def fire(signed: SignedRequest, barrier: threading.Barrier = barrier) -> float | str:
                barrier.wait(timeout=60)
                return _send(port, signed)

            for outcome in pool.map(fire, burst):
                if isinstance(outcome, str):
                    errors[outcome] += 1
                else:
                    latencies.append(outcome)
    latencies.sort()
    return Result(
        p50_ms=_percentile(latencies, 50),
        p99_ms=_percentile(latencies, 99),
        errors=sum(errors.values()),
        requests=concurrency * rounds,
        error_kinds=dict(errors),
    )


def measure(
    make_wsgi_app: AppFactory,
    concurrency: int,
    rounds: int = ROUNDS,
    *,
    threads: int = WAITRESS_THREADS,
    command: str = "/rds-restore",
    text: str = "help",
) -> Result:
    """Serve the factory's app with waitress in a child process and fire `rounds` bursts of `concurrency` commands."""
    with FakeSlackApi() as fake, _bench_environment(fake), _server_process(_serve_wsgi, make_wsgi_app, threads) as port:
        return _load(port, fake, concurrency, rounds, command, text)


def measure_dev_server(concurrency: int, rounds: int = ROUNDS) -> Result:
    """The same load against the bare Bolt app on Bolt's built-in development server (`app.start()`)."""
    with FakeSlackApi() as fake, _bench_environment(fake), _server_process(_serve_dev_server, _free_port()) as port:
        return _load(port, fake, concurrency, rounds, "/rds-restore", "help")


# -- command line -----------------------------------------------------------------------------------------------


def load_factory(spec: str) -> AppFactory:
    """`module:function` -> the function."""
    module_name, _, function_name = spec.partition(":")
    if not function_name:
        raise SystemExit(f"--app wants module:function, got {spec!r}")
    factory: AppFactory = getattr(importlib.import_module(module_name), function_name)
    return factory


def _row(label: str, concurrency: int, result: Result) -> str:
    kinds = ", ".join(f"{kind} x{count}" for kind, count in sorted(result.error_kinds.items()))
    numbers = f"{result.requests:>8} {result.p50_ms:>8.1f} {result.p99_ms:>8.1f} {result.errors:>6}"
    line = f"{label:<44} {concurrency:>11} {numbers}"
    return f"{line}  {kinds}" if kinds else line


def main(argv: Sequence[str] | None = None) -> None:
    """Print p50/p99 and errors per concurrency for the bare app and either yours or app.start()."""
    parser = argparse.ArgumentParser(prog="python -m bench.ack_latency", description=__doc__.splitlines()[0])
    parser.add_argument("--app", help="module:function returning the WSGI app (or Bolt App) to compare")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="bursts per concurrency level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=list(CONCURRENCY))
    parser.add_argument("--threads", type=int, default=WAITRESS_THREADS, help="waitress worker threads")
    parser.add_argument("--command", default="/rds-restore", help="slash command sent to --app")
    parser.add_argument("--text", default="help", help="slash command text sent to --app")
    parser.add_argument("--target", type=float, help="p99 of --app at most this many times the bare floor's")
    args = parser.parse_args(argv)

    print(
        f"ack latency: {args.rounds} bursts of N simultaneous signed slash commands, a new connection each;"
        f" waitress threads={args.threads}; {os.cpu_count()} CPUs"
    )
    print(f"{'server':<44} {'concurrency':>11} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    bare: dict[int, Result] = {}
    for concurrency in args.concurrency:
        bare[concurrency] = measure(bare_wsgi_app, concurrency, args.rounds, threads=args.threads)
        print(_row("(a) bare Bolt app, waitress", concurrency, bare[concurrency]), flush=True)
    if args.app is None:
        for concurrency in args.concurrency:
            result = measure_dev_server(concurrency, args.rounds)
            print(_row("bare Bolt app, app.start() dev server", concurrency, result), flush=True)
        return
    factory = load_factory(args.app)
    ratios: dict[int, float] = {}
    for concurrency in args.concurrency:
        result = measure(factory, concurrency, args.rounds, threads=args.threads, command=args.command, text=args.text)
        print(_row(f"(b) {args.app} {args.command}", concurrency, result), flush=True)
        ratios[concurrency] = result.p99_ms / bare[concurrency].p99_ms if result.errors == 0 else math.inf
    print("p99 of (b) / p99 of (a): " + "; ".join(f"{n} concurrent: {r:.2f}x" for n, r in ratios.items()))
    if args.target is not None:
        # The floor is (a) of this same run: the machine's load moves both, the ratio much less.
        missed = [n for n, r in ratios.items() if r > args.target]
        verdict = "met" if not missed else "NOT met at " + ", ".join(f"{n} concurrent" for n in missed)
        print(f"target: p99 within {args.target:.2f}x of the bare floor measured above, no errors: {verdict}")


if __name__ == "__main__":
    main()
