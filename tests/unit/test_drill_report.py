"""The trend chart is a real PNG of the runs that restored, and nothing when none did."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime

from bot.drills.chart import HEIGHT, WIDTH, trend_chart
from bot.drills.runs import DrillOutcome, DrillRun


def run(seconds: float | None, outcome: DrillOutcome = DrillOutcome.PASSED) -> DrillRun:
    return DrillRun(
        id="d1",
        drill_name="nightly",
        trigger="schedule",
        created_at=datetime(2026, 11, 25, tzinfo=UTC),
        rto_minutes=1.5,
        time_to_restore_seconds=seconds,
        outcome=outcome,
    )


def test_the_chart_is_a_png_with_a_red_bar_for_a_failed_run():
    chart = trend_chart([run(120, DrillOutcome.FAILED), run(60), run(70)])
    assert chart is not None
    png = chart.png
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (WIDTH, HEIGHT)
    idat = png.index(b"IDAT")
    length = struct.unpack(">I", png[idat - 4 : idat])[0]
    pixels = zlib.decompress(png[idat + 4 : idat + 4 + length])
    assert bytes((207, 34, 46)) in pixels and bytes((46, 160, 67)) in pixels


def test_no_chart_when_no_run_restored():
    assert trend_chart([run(None, DrillOutcome.FAILED)]) is None and trend_chart([]) is None
