"""A small PNG bar chart of the last runs' time-to-restore, for the report's thread. Pure: zlib and struct only."""

from __future__ import annotations

import struct
import zlib

from bot.drills.runs import DrillOutcome, DrillRun

WIDTH, HEIGHT, MARGIN = 320, 120, 8
_BACKGROUND = (255, 255, 255)
_PASSED = (46, 160, 67)
_FAILED = (207, 34, 46)
_TARGET = (110, 118, 129)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(pixels: list[list[tuple[int, int, int]]]) -> bytes:
    """An 8-bit RGB PNG of `pixels` (rows of (r, g, b))."""
    height, width = len(pixels), len(pixels[0])
    raw = b"".join(b"\0" + bytes(channel for pixel in row for channel in pixel) for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")
    )


def trend_chart(history: list[DrillRun]) -> bytes | None:
    """Bars oldest to newest (green passed, red failed), the RTO target as a grey line when it fits; None if empty."""
    runs = [r for r in reversed(history) if r.time_to_restore_seconds is not None]
    if not runs:
        return None
    target = runs[-1].rto_minutes * 60
    top = max(r.time_to_restore_seconds or 0.0 for r in runs) * 1.2 or 1.0
    pixels = [[_BACKGROUND] * WIDTH for _ in range(HEIGHT)]
    usable = HEIGHT - 2 * MARGIN
    slot = (WIDTH - 2 * MARGIN) // len(runs)
    for index, run in enumerate(runs):
        colour = _FAILED if run.outcome == DrillOutcome.FAILED else _PASSED
        bar = max(1, round(usable * (run.time_to_restore_seconds or 0.0) / top))
        left = MARGIN + index * slot + slot // 6
        for y in range(HEIGHT - MARGIN - bar, HEIGHT - MARGIN):
            for x in range(left, left + max(1, slot * 2 // 3)):
                pixels[y][x] = colour
    if target <= top:
        y = HEIGHT - MARGIN - round(usable * target / top)
        for x in range(MARGIN, WIDTH - MARGIN, 2):  # dashed
            pixels[y][x] = _TARGET
    return encode_png(pixels)
