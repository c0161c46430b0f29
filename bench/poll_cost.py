"""What waiting costs: one batched DescribeDBInstances for every job waiting on an instance, against one call per
job (what boto3's db_instance_available waiter would do), on a moto server over HTTP.

    python -m bench.poll_cost [--jobs 1 10 50 100] [--rounds 5]
"""

from __future__ import annotations

import argparse
import time

from aws.clients import make_clients
from aws.instances import Instances
from aws.network import Network
from aws.sandbox.moto_seed import start_sandbox_aws
from bot.ports import InstanceSpec, NetworkSpec


def _create(instances: Instances, count: int, subnet_group: str) -> list[str]:
    ids = [f"bench-{i:03d}" for i in range(count)]
    for instance_id in ids:
        if instances.find(instance_id) is None:
            instances.create(
                InstanceSpec(
                    instance_id=instance_id,
                    instance_class="db.m6i.large",
                    engine="sqlserver-se",
                    engine_version=None,
                    license_model="license-included",
                    storage_type="gp3",
                    allocated_storage_gb=20,
                    subnet_group_name=subnet_group,
                    security_group_ids=(),
                    option_group_name="rdsbot-bench",
                    tags={"rdsbot-job-id": instance_id},
                )
            )
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 10, 50, 100])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sandbox = start_sandbox_aws()
    try:
        clients = make_clients("us-east-1")
        rds = clients.rds
        instances = Instances(rds)
        placement = Network(clients.ec2, rds).ensure_placement(NetworkSpec())
        rds.create_option_group(
            OptionGroupName="rdsbot-bench",
            EngineName="sqlserver-se",
            MajorEngineVersion="15.00",
            OptionGroupDescription="poll-cost bench",
        )
        calls: list[str] = []
        rds.meta.events.register("before-call.rds.DescribeDBInstances", lambda **_: calls.append("d"))
        print(
            f"{'waiting jobs':>12} {'batched calls':>13} {'batched ms':>10} {'per-job calls':>13} "
            f"{'per-job ms':>10} {'time ratio':>10}"
        )
        for count in args.jobs:
            ids = _create(instances, count, placement.subnet_group_name)
            calls.clear()
            began = time.perf_counter()
            for _ in range(args.rounds):
                assert len(instances.describe_many(ids)) == count
            batched_ms = (time.perf_counter() - began) * 1000 / args.rounds
            batched_calls = len(calls) / args.rounds
            calls.clear()
            began = time.perf_counter()
            for _ in range(args.rounds):
                for instance_id in ids:
                    instances.find(instance_id)
            single_ms = (time.perf_counter() - began) * 1000 / args.rounds
            single_calls = len(calls) / args.rounds
            print(
                f"{count:>12} {batched_calls:>13.0f} {batched_ms:>10.1f} {single_calls:>13.0f} "
                f"{single_ms:>10.1f} {single_ms / batched_ms:>9.1f}x"
            )
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
