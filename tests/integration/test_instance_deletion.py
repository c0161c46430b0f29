"""Deleting a restore's instance on the moto server: with a final snapshot (tagged like the instance) or without,
and the AWS rules moto leaves out (aws/sandbox/moto_rules.py) that would let a wrong call pass here."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from aws.clients import AwsClients
from aws.instances import Instances
from tests.integration.test_aws_instances import named, placed_spec

INSTANCE = "rdsbot-sales-j1"
SNAPSHOT = "rdsbot-final-job-1-rdsbot-sales-j1"


@pytest.fixture
def instances(aws: AwsClients) -> Instances:
    gateway = Instances(aws.rds)
    gateway.create(named(placed_spec(aws), INSTANCE))  # tagged rdsbot-job-id job-1, managed-by rdsbot
    return gateway


def snapshots(aws: AwsClients) -> dict[str, dict[str, str]]:
    found = aws.rds.describe_db_snapshots(DBInstanceIdentifier=INSTANCE, SnapshotType="manual")["DBSnapshots"]
    return {s["DBSnapshotIdentifier"]: {t["Key"]: t["Value"] for t in s.get("TagList", [])} for s in found}


def test_deleting_with_a_final_snapshot_leaves_a_snapshot_tagged_as_the_jobs(aws, instances):
    instances.delete(INSTANCE, SNAPSHOT)

    assert instances.find(INSTANCE) is None
    taken = snapshots(aws)
    assert list(taken) == [SNAPSHOT]
    # CopyTagsToSnapshot: whoever finds the snapshot later sees which job and requester it came from.
    assert taken[SNAPSHOT]["rdsbot-job-id"] == "job-1"
    assert taken[SNAPSHOT]["managed-by"] == "rdsbot"


def test_deleting_without_a_final_snapshot_leaves_none(aws, instances):
    instances.delete(INSTANCE)

    assert instances.find(INSTANCE) is None
    assert snapshots(aws) == {}


def test_deleting_an_instance_already_gone_is_done(instances):
    instances.delete(INSTANCE)
    instances.delete(INSTANCE, SNAPSHOT)  # no error: gone counts as done

    assert instances.find(INSTANCE) is None


def test_aws_refuses_a_delete_that_neither_skips_nor_names_the_final_snapshot(aws, instances):
    # AWS API reference 'API_DeleteDBInstance': SkipFinalSnapshot defaults to false, and then
    # FinalDBSnapshotIdentifier is required. Plain moto deletes the instance anyway, with no snapshot.
    with pytest.raises(ClientError) as refused:
        aws.rds.delete_db_instance(DBInstanceIdentifier=INSTANCE)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert instances.find(INSTANCE) is not None


def test_aws_refuses_a_final_snapshot_name_while_skipping_it(aws, instances):
    # Same page: "If you enable this parameter and also enable SkipFinalShapshot, the command results in an error."
    with pytest.raises(ClientError) as refused:
        aws.rds.delete_db_instance(
            DBInstanceIdentifier=INSTANCE, SkipFinalSnapshot=True, FinalDBSnapshotIdentifier="rdsbot-final-x"
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert instances.find(INSTANCE) is not None
