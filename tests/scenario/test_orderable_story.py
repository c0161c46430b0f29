"""What a /rds-restore costs RDS before its card: one DescribeOrderableDBInstanceOptions listing of the engine per
preflight, counted by the story's AWS call recorder over the real Slack -> Bolt -> rdsbot path. On moto (which lists
nothing for SQL Server: one empty page) and on a region that lists SQL Server (tests/support/orderable_stand_in.py,
RDS's paging and filters on the same client)."""

from __future__ import annotations

from tests.scenario.conftest import ALICE, Story
from tests.support.fake_slack import RESPONSE_URL
from tests.support.orderable_stand_in import OrderableStandIn, offers

CLASSES = [
    f"db.{family}.{size}" for family in ("m5", "m6i", "r6i") for size in ("large", "xlarge", "2xlarge", "4xlarge")
]
VERSIONS = [f"{major}.{minor}.1.v1" for major in ("14.00", "15.00", "16.00") for minor in (3465, 4415, 4430)]


def dry_run(story: Story, text: str, answer: str = "dry") -> str:
    story.aws.clear()
    story.command("/rds-restore", f"{text} --dry-run", ALICE, response_id=answer)
    return str(story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == answer).body["text"])


def test_on_moto_a_preflight_asks_for_the_listing_once(story: Story) -> None:
    plan = dry_run(story, "prod-backup.bak db.m5.large")
    assert "Dry run, nothing created" in plan
    assert story.aws.count("DescribeOrderableDBInstanceOptions") == 1


def test_where_rds_lists_sql_server_one_listing_gives_the_class_check_and_the_version(story: Story) -> None:
    stand_in = OrderableStandIn(offers("sqlserver-se", CLASSES, VERSIONS, ("gp2", "gp3", "io1", "io2")))
    stand_in.attach(story.app.clients_for("us-east-1").rds)
    plan = dry_run(story, "prod-backup.bak db.m6i.xlarge")
    assert "15.00.4430.1.v1" in plan  # the newest 15.00 the listing offers for the class
    # 432 rows: one page of 1000. Listing the classes, then the class's versions, took 5 + 1 pages of 100.
    assert story.aws.count("DescribeOrderableDBInstanceOptions") == 1
    refused = dry_run(story, "prod-backup.bak db.m7i.large", answer="refused")
    assert "db.m7i.large is not orderable for sqlserver-se in us-east-1" in refused
    assert story.aws.count("DescribeOrderableDBInstanceOptions") == 1
