"""The hash chain alone: any change to a day's trail is named at the first link it breaks."""

from __future__ import annotations

import time
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


def test_each_broken_link_is_reported_in_full() -> None:
    records = chain(3)
    cases: list[tuple[list[tuple[str, dict[str, Any] | None]], str, str]] = [
        ([("line 1", None)], "line 1", "not a JSON object (altered or truncated)"),
        (located([{**records[0], "day": "2024-11-26"}]), "line 1", "belongs to day '2024-11-26', not 2024-11-25"),
        (located([records[1]]), "line 1",
         "seq 2 where 1 was expected (an event is missing, repeated or moved)"),
        (located([{**records[0], "prev_hash": "0" * 64}]), "line 1",
         "prev_hash is not the previous event's hash (an event before it was removed or altered)"),
        (located([{**records[0], "hash": "0" * 64}]), "line 1",
         "hash does not match the event's content (the event was altered)"),
    ]  # fmt: skip
    for located_records, where, reason in cases:
        check = verify_day(DAY, located_records)
        assert (check.day, check.events, check.broken_at, check.reason) == (DAY, 0, where, reason)
        assert check.summary() == f"{DAY}: chain broken at {where}: {reason} (0 event(s) before it)"


def test_a_trail_that_differs_from_the_head_only_in_its_last_hash_is_caught() -> None:
    records = chain(3)
    check = verify_day(DAY, located(records), head=(3, "f" * 64))
    assert (check.day, check.events, check.broken_at) == (DAY, 3, "end of trail")
    assert check.reason == "the chain head records 3 event(s) ending in hash ffffffffffff; the trail does not match"
    longer = verify_day(DAY, located(records), head=(4, records[-1]["hash"]))
    assert longer.broken_at == "end of trail" and str(longer.reason).startswith("the chain head records 4 event(s)")
    assert verify_day(DAY, located(records)).day == DAY


def test_values_are_hashed_as_the_json_column_gives_them_back() -> None:
    at = datetime(2024, 11, 25, 9, 0, tzinfo=UTC)
    assert audit_chain.json_value({"t": (1, 2), "at": at, "n": None}) == {
        "t": [1, 2], "at": "2024-11-25 09:00:00+00:00", "n": None
    }  # fmt: skip
    with pytest.raises(ValueError):
        audit_chain.json_value({"ratio": float("nan")})
    with pytest.raises(ValueError):
        audit_chain.canonical({**chain(1)[0], "detail": {"ratio": float("inf")}})


def test_a_line_that_is_json_but_not_an_object_is_not_a_record() -> None:
    assert parse_line(b"[1, 2]") is None and parse_line(b'"text"') is None
    assert parse_line(b'{"seq": 1}') == {"seq": 1}


def test_days_and_timestamps_do_not_depend_on_the_machines_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        just_after_midnight_utc = datetime(2024, 11, 25, 2, 30, tzinfo=UTC)
        assert audit_chain.day_of(just_after_midnight_utc) == "2024-11-25"
        assert audit_chain.timestamp(just_after_midnight_utc) == "2024-11-25T02:30:00.000000Z"
    finally:
        monkeypatch.undo()
        time.tzset()
    with pytest.raises(ValueError, match=r"^audit timestamps must be timezone-aware$"):
        audit_chain.day_of(datetime(2024, 11, 25, 9, 0))
