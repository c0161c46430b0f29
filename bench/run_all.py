"""`make bench`: every benchmark, one after the other; each prints its own numbers and ratios."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = [
    ["bench.poll_cost"],
    ["bench.loop_cost"],
    ["bench.audit_trail"],
    ["bench.slack_calls"],
    ["bench.ack_latency", "--app", "bench.rdsbot_app:make_wsgi_app", "--text", "prod-backup.bak db.m5.large"],
]


def main() -> int:
    failed = 0
    for bench in BENCHMARKS:
        print(f"\n$ python -m {' '.join(bench)}", flush=True)
        failed += subprocess.run([sys.executable, "-m", *bench], check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
