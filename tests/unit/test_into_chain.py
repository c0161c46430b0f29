"""A restore chain onto an existing instance: accepted by the parser (given flags or --chain PREFIX), planned with
its chain, shown step by step on a card whose first line says a --replace drops the database."""

import pytest

from bot import card_facts
from bot.errors import RequestError
from bot.parser import parse_restore_command
from tests.unit.test_into_rules import existing, world

CHAIN_INTO = "chain/full.bak --into rdsbot-staging-1 --diff chain/diff.bak --log chain/log1.trn --replace"


def test_a_chain_with_into_parses_without_an_instance_class():
    request = parse_restore_command(CHAIN_INTO)
    assert request.into_instance_id == "rdsbot-staging-1" and request.diff is not None and len(request.logs) == 1
    assert request.instance_class is None and request.replace


def test_chain_prefix_with_into_parses_and_refuses_a_class():
    request = parse_restore_command("--chain chain/ --into rdsbot-staging-1")
    assert request.chain and request.instance_class is None
    with pytest.raises(RequestError) as caught:
        parse_restore_command("--chain chain/ db.m5.large --into rdsbot-staging-1")
    assert caught.value.field == "chain" and "keeps its class" in caught.value.message


def test_a_chain_into_is_planned_with_its_steps_and_the_card_says_replace_first():
    aws, _, _, service = world()
    existing(aws, databases={"prod_backup"})
    for key in ("chain/full.bak", "chain/diff.bak", "chain/log1.trn"):
        aws.objects[f"rdsbot-backups/{key}"] = 10
    request = parse_restore_command(CHAIN_INTO.replace("--replace", "--db prod_backup --replace"))
    job = service.submit(request, "U1").job
    assert job.plan.chain is not None and job.plan.into is not None and job.plan.into.database_existed
    lines = card_facts.card_lines(job, card_facts.PLAIN)
    assert lines[0].startswith("REPLACES database prod_backup on rdsbot-staging-1")
    steps = [line for line in lines if line.startswith("Step ")]
    assert len(steps) == 4 and "diff.bak" in steps[1] and "log1.trn" in steps[2] and "rds_finish_restore" in steps[3]
