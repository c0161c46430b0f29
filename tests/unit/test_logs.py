import json
import logging

from bot.logs import JsonLinesFormatter, redact


def test_json_lines_carry_the_extras():
    record = logging.makeLogRecord({"msg": "stage %s", "args": ("network",), "levelname": "INFO", "job_id": "j1"})
    line = json.loads(JsonLinesFormatter().format(record))
    assert line["msg"] == "stage network" and line["job_id"] == "j1" and line["level"] == "info"


def test_secrets_are_masked_in_every_shape():
    text = redact('token xoxb-123-abc {"password": "hunter2"} password=s3cret xapp-1-A')
    assert "xoxb-123-abc" not in text and "hunter2" not in text and "s3cret" not in text and "xapp-1-A" not in text
