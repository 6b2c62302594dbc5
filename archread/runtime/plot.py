"""The per-layer error as a PNG: log10 relative L2 of the reduced model and of the original in low precision,
both against the float32 original — the plot that found the Gemma bugs. Written with zlib alone."""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

from archread.errors import ArchreadError

# a 3×5 pixel font: each glyph five rows of three bits
_FONT = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001010010010",
    "8": "111101111101111", "9": "111101111001111", "-": "000000111000000", ".": "000000000000010",
    " ": "000000000000000", "(": "010100100100010", ")": "010001001001010", "/": "001001010100100",
    "a": "010101111101101", "b": "110101110101110", "c": "011100100100011", "d": "110101101101110",
    "e": "111100110100111", "f": "111100110100100", "g": "011100101101011", "h": "101101111101101",
    "i": "111010010010111", "j": "001001001101010", "k": "101101110101101", "l": "100100100100111",
    "m": "101111111101101", "n": "110101101101101", "o": "010101101101010", "p": "110101110100100",
    "q": "010101101110011", "r": "110101110101101", "s": "011100010001110", "t": "111010010010010",
    "u": "101101101101111", "v": "101101101101010", "w": "101101111111101", "x": "101101010101101",
    "y": "101101010010010", "z": "111001010100111", "_": "000000000000111", ":": "000010000010000",
    ",": "000000000010100",
}
WIDTH, HEIGHT, SCALE = 720, 400, 2
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 64, 50
INK, GRID, REDUCED, ORIGINAL = (30, 30, 30), (220, 220, 220), (200, 40, 40), (40, 90, 200)


class Canvas:
    def __init__(self):
        self.px = bytearray(b"\xff" * WIDTH * HEIGHT * 3)

    def dot(self, x, y, colour, size=1):
        for dy in range(size):
            for dx in range(size):
                xx, yy = int(x) + dx, int(y) + dy
                if 0 <= xx < WIDTH and 0 <= yy < HEIGHT:
                    i = (yy * WIDTH + xx) * 3
                    self.px[i:i + 3] = bytes(colour)

    def line(self, x0, y0, x1, y1, colour, width=1):
        steps = int(max(abs(x1 - x0), abs(y1 - y0), 1))
        for s in range(steps + 1):
            self.dot(x0 + (x1 - x0) * s / steps, y0 + (y1 - y0) * s / steps, colour, width)

    def text(self, x, y, words, colour=INK):
        for n, ch in enumerate(words.lower()):
            bits = _FONT.get(ch, _FONT[" "])
            for row in range(5):
                for col in range(3):
                    if bits[row * 3 + col] == "1":
                        self.dot(x + (n * 4 + col) * SCALE, y + row * SCALE, colour, SCALE)

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(self.px[y * WIDTH * 3:(y + 1) * WIDTH * 3]) for y in range(HEIGHT))

        def chunk(kind, data):
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def tick_label(name: str) -> str:
    """A module's short name under its tick: the layer index, else the last part (embed_tokens, norm)."""
    return name.rsplit(".", 1)[-1]


def error_plot(report, path: Path) -> None:
    """log10 rel L2 per layer: the reduced model, and the original in the same dtype, each vs float32. The
    original is drawn first, dashed with hollow rings; the reduced model over it, solid with filled squares, so
    where the two agree both stay visible. An error of 0 sits on the bottom line (it has no logarithm)."""
    names = [e.name for e in report.layers] + ["logits"]
    series = []
    own = {b.name: b.rel_l2 for b in report.baseline}
    if own:
        series.append((f"original {report.dtype} (dashed, rings)", ORIGINAL, [own.get(n, float("nan")) for n in names],
                       "ring"))
    series.append(("reduced (solid, squares)", REDUCED, [e.rel_l2 for e in report.layers] + [report.logits.rel_l2],
                   "square"))
    logs = [math.log10(v) for _, _, vals, _ in series for v in vals if v == v and v != float("inf") and v > 0]
    lo, hi = (math.floor(min(logs)), math.ceil(max(logs))) if logs else (-12, 0)
    lo -= 1  # a decade below the smallest error: the floor line is where exact zeros sit
    hi = max(hi, lo + 1)
    c = Canvas()
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def xy(i, v):
        x = LEFT + (plot_w * i / max(len(names) - 1, 1))
        return x, TOP + plot_h * (hi - (math.log10(v) if v > 0 else lo)) / (hi - lo)

    for tick in range(lo, hi + 1):
        y = TOP + plot_h * (hi - tick) / (hi - lo)
        c.line(LEFT, y, WIDTH - RIGHT, y, GRID)
        c.text(LEFT - 40, y - 4, f"1e{tick}")
    c.line(LEFT, TOP, LEFT, TOP + plot_h, INK)
    c.line(LEFT, TOP + plot_h, WIDTH - RIGHT, TOP + plot_h, INK)
    step = plot_w / max(len(names) - 1, 1)
    room = max(1, math.ceil(max(len(tick_label(n)) for n in names) * 4 * SCALE / step + 0.01))  # labels never overlap
    for i, name in enumerate(names):
        x = xy(i, 1)[0]
        c.line(x, TOP + plot_h, x, TOP + plot_h + 4, INK)
        if (len(names) - 1 - i) % room == 0:  # counted from the logits, which are always named
            label = tick_label(name)
            c.text(x - len(label) * 2 * SCALE, TOP + plot_h + 8, label)
    c.text(LEFT, HEIGHT - 18, f"module in run order ({len(names)}: embedding, decoder layers by index, logits)")
    c.text(4, TOP - 18, "rel l2 (log)")
    c.text(LEFT + 60, 10, f"{report.model} {report.dtype}: rel l2 vs the float32 original per module")
    for n, (label, colour, values, marker) in enumerate(series):
        y = 30 + 14 * n  # the legend, between the title and the plot
        for x in range(LEFT + 270, LEFT + 294, 8 if marker == "ring" else 24):
            c.line(x, y, x + (5 if marker == "ring" else 24), y, colour, 3)
        c.text(LEFT + 300, y - 4, label, colour)
        points = [xy(i, v) for i, v in enumerate(values) if v == v and v != float("inf")]
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            if marker == "ring":
                dashed(c, x0, y0, x1, y1, colour, 3)
            else:
                c.line(x0, y0, x1, y1, colour, 1)
        for x, y in points:
            if marker == "ring":
                ring(c, x, y, 6, colour)
            else:
                c.dot(x - 2, y - 2, colour, 5)
    try:
        Path(path).write_bytes(c.png())
    except OSError as exc:
        raise ArchreadError(f"{path}: cannot write ({exc.strerror})") from None


def dashed(c: Canvas, x0, y0, x1, y1, colour, width) -> None:
    length = math.hypot(x1 - x0, y1 - y0)
    for s in range(0, int(length), 10):
        a, b = s / max(length, 1), min(s + 6, length) / max(length, 1)
        c.line(x0 + (x1 - x0) * a, y0 + (y1 - y0) * a, x0 + (x1 - x0) * b, y0 + (y1 - y0) * b, colour, width)


def ring(c: Canvas, x, y, radius, colour) -> None:
    for step in range(48):
        angle = 2 * math.pi * step / 48
        c.dot(x + radius * math.cos(angle) - 1, y + radius * math.sin(angle) - 1, colour, 2)
