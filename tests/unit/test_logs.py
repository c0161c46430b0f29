import json
import logging

import boto3
import pytest

from aws.clients import mask_session_secrets
from aws.secrets import master_credentials
from bot.logs import MASK, JsonLinesFormatter, forget_masked_values, mask_value, redact
from config.settings import load_settings


def test_json_lines_carry_the_extras():
    record = logging.makeLogRecord({"msg": "stage %s", "args": ("network",), "levelname": "INFO", "job_id": "j1"})
    line = json.loads(JsonLinesFormatter().format(record))
    assert line["msg"] == "stage network" and line["job_id"] == "j1" and line["level"] == "info"


def test_secrets_are_masked_in_every_shape():
    text = redact('token xoxb-123-abc {"password": "hunter2"} password=s3cret xapp-1-A')
    assert "xoxb-123-abc" not in text and "hunter2" not in text and "s3cret" not in text and "xapp-1-A" not in text


# Masking by value and by shape: every form a secret takes in a log line.

SIGNING_SECRET = "8f742231b10e8888abcd9985a50123ab"  # 32 hex characters, Slack's shape
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture(autouse=True)
def _no_values_from_other_tests():
    forget_masked_values()
    yield
    forget_masked_values()


def json_line(message: str, **extra: object) -> tuple[str, dict[str, object]]:
    record = logging.makeLogRecord({"msg": "%s", "args": (message,), "levelname": "INFO", **extra})
    line = JsonLinesFormatter().format(record)
    return line, json.loads(line)  # still one valid JSON document after masking


def test_a_dict_repr_keeps_its_shape_and_loses_the_password():
    assert redact("login with {'password': 'hunter2!', 'user': 'sa'}") == "login with {'password': '***', 'user': 'sa'}"
    assert redact("{'MasterUserPassword': 'p@ss w0rd'}") == "{'MasterUserPassword': '***'}"


def test_escaped_json_inside_a_json_log_line_is_masked_and_the_line_stays_json():
    line, parsed = json_line(json.dumps({"password": "hunter2!", "db_token": "abc123xyz"}))
    assert "hunter2" not in line and "abc123xyz" not in line
    assert json.loads(str(parsed["msg"])) == {"password": MASK, "db_token": MASK}
    twice = json.dumps({"body": json.dumps({"client_secret": "s3cr3t-value"})})  # JSON in JSON in a JSON line
    line, parsed = json_line(twice)
    assert "s3cr3t-value" not in line and json.loads(json.loads(str(parsed["msg"]))["body"]) == {"client_secret": MASK}


def test_a_password_in_the_records_extras_is_masked():
    line, parsed = json_line("connecting", password="hunter2!")
    assert parsed["password"] == MASK and "hunter2" not in line


@pytest.mark.parametrize(
    "token",
    [
        "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "xoxp-1234567890-1234567890-1234567890123-0123456789abcdef0123456789abcdef",
        "xoxe-1-My0xLTEyMzQ1Njc4OTAtMTIzNDU2Nzg5MDEyMy1hYmNkZWY",
        "xoxe.xoxp-1-Mi0yLTEyMzQ1Njc4OTAtMTIzNDU2Nzg5MDEyMw",
        "xapp-1-A0123456789-1234567890123-0123456789abcdef0123456789abcdef",
    ],
)
def test_every_slack_token_kind_is_masked_by_its_shape(token: str):
    text = redact(f"auth.test answered for {token}.")
    assert token not in text and text == f"auth.test answered for {MASK}."


def test_the_hex_signing_secret_is_masked_by_value_once_settings_are_loaded(monkeypatch: pytest.MonkeyPatch):
    line = f"signature check with {SIGNING_SECRET} failed"
    assert SIGNING_SECRET in redact(line)  # no shape tells a signing secret from a digest: only its value does
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-unusual")  # a token of a shape no pattern knows
    load_settings()
    assert redact(line) == f"signature check with {MASK} failed"
    assert redact("Bearer xoxb-unusual") == f"Bearer {MASK}"


def test_aws_secret_access_keys_are_masked_by_shape_and_by_value():
    assert redact(f"credentials {AWS_SECRET} loaded") == f"credentials {MASK} loaded"
    assert redact(f"aws_secret_access_key={AWS_SECRET}") == f"aws_secret_access_key={MASK}"
    digest = "36149e28375e049a58c8a50158a1e249c13ea4e70bcd374d16273babb6505c32"
    assert redact(f"hash {digest}") == f"hash {digest}"  # a SHA-256 digest is not a key
    odd = "abcdefghijklmnopqrstuvwxyz0123456789ABC"  # 39 characters: no key shape, but the session's own secret
    assert odd in redact(odd)
    session = boto3.Session(aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key=odd, region_name="us-east-1")
    mask_session_secrets(session)
    assert redact(f"signing with {odd}") == f"signing with {MASK}"


class FakeSecrets:
    def __init__(self, password: str) -> None:
        self.password = password

    def get_secret_value(self, SecretId: str) -> dict[str, str]:
        return {"SecretString": json.dumps({"username": "admin", "password": self.password})}


def test_a_fetched_password_is_masked_in_every_escaped_form():
    password = 'pa"ss\\word-42'
    assert master_credentials(FakeSecrets(password), "arn:secret") == ("admin", password)
    assert redact(f"login failed for {password}") == f"login failed for {MASK}"
    assert password not in redact(repr({"pw": password})) and "ss\\\\word" not in redact(repr({"pw": password}))
    line, parsed = json_line(f"driver said: {json.dumps({'pw': password})}")
    assert "word-42" not in line and parsed["msg"] == f'driver said: {{"pw": "{MASK}"}}'


def test_short_values_are_not_registered_so_ordinary_words_survive():
    mask_value("admin")
    mask_value(None)
    assert redact("admin logged in") == "admin logged in"


def test_the_tde_private_key_password_header_is_masked_as_botocore_logs_it():
    # botocore at DEBUG logs response headers; a .pvk's HeadObject carries the encrypted password of its key.
    line = "Response headers: {'content-type': 'binary/octet-stream', 'x-amz-meta-rds-tde-pwd': 'AQIDAHimL2NEoAlOY6Bn'}"
    masked = redact(line)
    assert "AQIDAHimL2NEoAlOY6Bn" not in masked
    assert "'x-amz-meta-rds-tde-pwd': '***'" in masked and "binary/octet-stream" in masked
