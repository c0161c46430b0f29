"""A 3x5 pixel font for the drill chart's axis labels and dates: digits, the few capitals the labels use, and
punctuation. Pure; no imaging library for a handful of short labels."""

from __future__ import annotations

from collections.abc import Iterator

GLYPH_WIDTH, GLYPH_HEIGHT = 3, 5

# Five rows of three pixels each, top to bottom; "#" is ink.
_GLYPHS = {
    "0": "###/#.#/#.#/#.#/###",
    "1": ".#./##./.#./.#./###",
    "2": "###/..#/###/#../###",
    "3": "###/..#/.##/..#/###",
    "4": "#.#/#.#/###/..#/..#",
    "5": "###/#../###/..#/###",
    "6": "###/#../###/#.#/###",
    "7": "###/..#/.#./.#./.#.",
    "8": "###/#.#/###/#.#/###",
    "9": "###/#.#/###/..#/###",
    "A": ".#./#.#/###/#.#/#.#",
    "C": ".##/#../#../#../.##",
    "D": "##./#.#/#.#/#.#/##.",
    "E": "###/#../##./#../###",
    "I": "###/.#./.#./.#./###",
    "M": "#.#/###/###/#.#/#.#",
    "N": "##./#.#/#.#/#.#/#.#",
    "O": ".#./#.#/#.#/#.#/.#.",
    "R": "##./#.#/##./#.#/#.#",
    "S": ".##/#../.#./..#/##.",
    "T": "###/.#./.#./.#./.#.",
    "U": "#.#/#.#/#.#/#.#/###",
    "-": ".../.../###/.../...",
    ".": ".../.../.../.../.#.",
    ":": ".../.#./.../.#./...",
    "(": ".#./#../#../#../.#.",
    ")": ".#./..#/..#/..#/.#.",
    " ": ".../.../.../.../...",
}


def glyph(char: str) -> tuple[str, ...]:
    """The rows of one character; a character the font lacks is drawn as a blank."""
    return tuple(_GLYPHS.get(char.upper(), _GLYPHS[" "]).split("/"))


def ink(text: str, scale: int) -> Iterator[tuple[int, int]]:
    """(x, y) offsets of every inked pixel of `text`, each font pixel drawn as a scale x scale square."""
    for index, char in enumerate(text):
        for row, bits in enumerate(glyph(char)):
            for column, bit in enumerate(bits):
                if bit != "#":
                    continue
                left = (index * (GLYPH_WIDTH + 1) + column) * scale
                for dy in range(scale):
                    for dx in range(scale):
                        yield left + dx, row * scale + dy


def text_width(text: str, scale: int) -> int:
    """Pixels `text` takes across, with one blank font column between characters."""
    return max(0, len(text) * (GLYPH_WIDTH + 1) - 1) * scale
