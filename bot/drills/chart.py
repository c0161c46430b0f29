"""A PNG bar chart of the last runs' time-to-restore for the report's thread: labelled axes (minutes up, the run's
UTC date under each bar), the RTO target as a grey line, and alt text saying the same in words. Pure: zlib and
struct only."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from bot.drills.chart_font import GLYPH_HEIGHT, ink, text_width
from bot.drills.runs import DrillOutcome, DrillRun
from bot.render import duration

WIDTH, HEIGHT = 480, 240
SCALE = 2  # font pixels are 2x2: 6x10 per character
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 44  # room for the y ticks, the title, the dates and the x-axis title
Y_TITLE = "TIME-TO-RESTORE (MIN)"
X_TITLE = "RUN DATE (UTC)"
ALT_TEXT_LIMIT = 1000  # files.getUploadURLExternal refuses a longer alt_txt (alt_txt_too_large)
Pixel = tuple[int, int, int]
_BACKGROUND: Pixel = (255, 255, 255)
_PASSED: Pixel = (46, 160, 67)
_FAILED: Pixel = (207, 34, 46)
_TARGET: Pixel = (110, 118, 129)
_INK: Pixel = (36, 41, 47)


@dataclass(frozen=True)
class TrendChart:
    """The PNG, its title, and its alt text for screen readers (files.getUploadURLExternal `alt_txt`)."""

    png: bytes
    title: str
    alt_text: str


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(pixels: list[list[Pixel]]) -> bytes:
    """An 8-bit RGB PNG of `pixels` (rows of (r, g, b))."""
    height, width = len(pixels), len(pixels[0])
    raw = b"".join(b"\0" + bytes(channel for pixel in row for channel in pixel) for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")
    )


def draw_text(pixels: list[list[Pixel]], text: str, left: int, top: int, colour: Pixel = _INK) -> None:
    """Write `text` with its top-left corner at (left, top); what falls outside the canvas is dropped."""
    for dx, dy in ink(text, SCALE):
        x, y = left + dx, top + dy
        if 0 <= y < len(pixels) and 0 <= x < len(pixels[0]):
            pixels[y][x] = colour


def _minutes(seconds: float) -> str:
    minutes = seconds / 60
    if minutes == 0:
        return "0"
    return f"{minutes:.1f}" if minutes < 10 else f"{minutes:.0f}"


def _restored(history: list[DrillRun]) -> list[DrillRun]:
    """Oldest first, only the runs whose restore finished (the others have no time to show)."""
    return [r for r in reversed(history) if r.time_to_restore_seconds is not None]


def alt_text(history: list[DrillRun]) -> str:
    """The chart in words: one entry per bar, oldest first, and the target."""
    runs = _restored(history)
    if not runs:
        return ""
    bars = "; ".join(
        f"{r.created_at:%Y-%m-%d} {duration(r.time_to_restore_seconds)} {r.outcome or 'unfinished'}" for r in runs
    )
    text = (
        f"Bar chart of time-to-restore for the last {len(runs)} run(s) of drill {runs[-1].drill_name}, "
        f"oldest first: {bars}. RTO target {duration(runs[-1].rto_minutes * 60)}."
    )
    return text if len(text) <= ALT_TEXT_LIMIT else text[: ALT_TEXT_LIMIT - 1] + "…"


def trend_chart(history: list[DrillRun]) -> TrendChart | None:
    """Bars oldest to newest (green passed, red failed) over labelled axes; None when no run restored."""
    runs = _restored(history)
    if not runs:
        return None
    target = runs[-1].rto_minutes * 60
    top = max(max(r.time_to_restore_seconds or 0.0 for r in runs), target) * 1.15 or 1.0
    pixels = [[_BACKGROUND] * WIDTH for _ in range(HEIGHT)]
    plot_left, plot_bottom, plot_right = LEFT, HEIGHT - BOTTOM, WIDTH - RIGHT
    usable = plot_bottom - TOP
    glyph_height = GLYPH_HEIGHT * SCALE

    def y_of(seconds: float) -> int:
        return plot_bottom - round(usable * seconds / top)

    # Axes, the y title above the y axis, tick labels at 0, half and the top of the scale.
    for y in range(TOP, plot_bottom + 1):
        pixels[y][plot_left] = _INK
    for x in range(plot_left, plot_right):
        pixels[plot_bottom][x] = _INK
    draw_text(pixels, Y_TITLE, 4, 6)
    for seconds in (0.0, top / 2, top):
        label = _minutes(seconds)
        y = y_of(seconds)
        pixels[y][plot_left - 1] = pixels[y][plot_left - 2] = _INK
        draw_text(pixels, label, plot_left - 6 - text_width(label, SCALE), y - glyph_height // 2)
    draw_text(pixels, X_TITLE, (plot_left + plot_right - text_width(X_TITLE, SCALE)) // 2, HEIGHT - glyph_height - 4)

    slot = (plot_right - plot_left - 4) // len(runs)
    label_width = text_width("00-00", SCALE)
    every = max(1, -(-(label_width + 6) // max(slot, 1)))  # label every n-th bar when the dates would touch
    for index, run in enumerate(runs):
        colour = _FAILED if run.outcome == DrillOutcome.FAILED else _PASSED
        left = plot_left + 4 + index * slot + slot // 6
        width = max(1, slot * 2 // 3)
        for y in range(y_of(run.time_to_restore_seconds or 0.0), plot_bottom):
            for x in range(left, left + width):
                pixels[y][x] = colour
        if index % every == 0:
            date = f"{run.created_at:%m-%d}"
            draw_text(pixels, date, left + width // 2 - label_width // 2, plot_bottom + 6)

    y = y_of(target)
    for x in range(plot_left + 1, plot_right, 2):  # dashed
        pixels[y][x] = _TARGET
    draw_text(pixels, "RTO", plot_right - text_width("RTO", SCALE), y - glyph_height - 2, _TARGET)
    title = f"{runs[-1].drill_name}: time-to-restore, last {len(runs)} run(s) (grey: RTO target)"
    return TrendChart(png=encode_png(pixels), title=title, alt_text=alt_text(history))
