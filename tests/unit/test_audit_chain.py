"""The hash chain alone: any change to a day's trail is named at the first link it breaks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bot import audit_chain
from bot.audit_chain import digest, genesis, jsonl_line, parse_line, verify_day

DAY = "2024-11-25"
T0 = datetime(2024, 11, 25, 9, 0, tzinfo=UTC)


def chain(count: int, day: str = DAY) -> list[dict[str, Any]]:
    records, previous = [], genesis(day)
    for seq in range(1, count + 1):
        record: dict[str, Any] = {
            "id": 100 + seq,
            "day": day,
            "seq": seq,
            "at": audit_chain.timestamp(T0 + timedelta(seconds=seq)),
            "actor": "U0BOB",
            "iam_user": "bob",
            "action": "stage.succeeded",
            "job_id": "j1",
            "detail": {"stage": "network", "seconds": 0.25, "nested": {"b": 1, "a": [1, "x"]}},
            "prev_hash": previous,
        }
        record["hash"] = previous = digest(record)
        records.append(record)
    return records


def located(records: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any] | None]]:
    return [(f"line {n}", r) for n, r in enumerate(records, start=1)]


def test_an_untouched_chain_verifies_and_counts_its_events():
    check = verify_day(DAY, located(chain(5)))
    assert check.ok and check.events == 5 and "intact" in check.summary()


def test_an_altered_event_is_named_by_its_own_line():
    records = chain(5)
    records[2]["detail"] = {**records[2]["detail"], "stage": "instance"}
    check = verify_day(DAY, located(records))
    assert (check.ok, check.broken_at, check.events) == (False, "line 3", 2)
    assert "altered" in str(check.reason)


def test_a_rehashed_forgery_breaks_the_next_link():
    records = chain(5)
    records[2]["actor"] = "U0MALLORY"
    records[2]["hash"] = digest(records[2])  # the forger recomputes this event's hash, but not the rest
    check = verify_day(DAY, located(records))
    assert check.broken_at == "line 4" and "prev_hash" in str(check.reason)


@pytest.mark.parametrize(
    ("change", "broken"),
    [
        (lambda r: r.pop(1), "line 2"),  # removed
        (lambda r: r.insert(2, dict(r[1])), "line 3"),  # repeated
        (lambda r: r.__setitem__(slice(1, 3), [r[2], r[1]]), "line 2"),  # swapped
    ],
)
def test_a_missing_repeated_or_moved_event_is_caught(change, broken):
    records = chain(5)
    change(records)
    check = verify_day(DAY, located(records))
    assert check.broken_at == broken and "seq" in str(check.reason)


def test_a_line_that_is_not_json_is_named():
    lines = [jsonl_line(r) for r in chain(3)]
    lines[1] = lines[1][:20] + b"\n"
    check = verify_day(DAY, [(f"line {n}", parse_line(line)) for n, line in enumerate(lines, 1)])
    assert check.broken_at == "line 2" and "not a JSON object" in str(check.reason)


def test_a_trail_cut_short_is_caught_against_the_recorded_head():
    records = chain(5)
    assert verify_day(DAY, located(records), head=(5, records[-1]["hash"])).ok
    cut = verify_day(DAY, located(records[:4]), head=(5, records[-1]["hash"]))
    assert cut.broken_at == "end of trail"
    assert verify_day(DAY, [], head=(0, genesis(DAY))).ok


def test_each_day_starts_from_its_own_genesis_so_days_cannot_be_swapped():
    other = chain(2, day="2024-11-26")
    assert genesis(DAY) != genesis("2024-11-26")
    check = verify_day(DAY, located(other))
    assert check.broken_at == "line 1" and "belongs to day" in str(check.reason)


def test_the_canonical_form_ignores_key_order_and_extra_fields_and_is_stable():
    record = chain(1)[0]
    shuffled = dict(reversed(list(record.items())))
    assert audit_chain.canonical(shuffled) == audit_chain.canonical({**record, "batch_key": "x", "id": 7})
    assert jsonl_line(record) == jsonl_line(shuffled) and jsonl_line(record).endswith(b"\n")
    assert parse_line(jsonl_line(record)) == record


def test_days_and_timestamps_are_utc_whatever_zone_the_caller_used():
    late_evening_in_new_york = datetime(2024, 11, 24, 21, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert audit_chain.day_of(late_evening_in_new_york) == "2024-11-25"
    assert audit_chain.timestamp(late_evening_in_new_york) == "2024-11-25T02:30:00.000000Z"
    with pytest.raises(ValueError):
        audit_chain.day_of(datetime(2024, 11, 25, 9, 0))
