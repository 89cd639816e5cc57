"""The report's charts as PNG pictures (Pillow), for the DOCX: the same series, axes and titles as the
PDF's (collector/reports/chartdata.py). reportlab draws PNG only through a cairo backend that is not
a dependency.

In the picture: numbers, dates and the legend, with Pillow's built-in font (no file needed), or with
the report's CJK TrueType font when fonts.py found one. A label that font cannot draw (Chinese
without a CJK font) is shown as "#n" and named in the caption, which the DOCX writes as text."""
from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from collector.reports import chartdata, fonts
from collector.reports.data import ReportData

WIDTH, HEIGHT = 1600, 700
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")  # as the PDF
AXIS, GRID, TEXT = "#444444", "#dddddd", "#222222"
LEFT, TOP, BOTTOM = 110, 30, 90  # plot margins (px); the legend sits right of the plot
PLOT_RIGHT = 1100

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class Picture:
    png: bytes
    title: str           # the chart's title (zh-CN), written under the picture
    caption: list[str]  # further lines: the legend's names the picture could not draw


@lru_cache(maxsize=4)
def _font(size: int) -> tuple[Font, bool]:
    """(font, draws CJK)."""
    path = fonts.report_font().path
    if path:
        try:
            return ImageFont.truetype(path, size, index=0), True
        except OSError:
            pass
    return ImageFont.load_default(size=size), False


def _label(text: str, n: int, names: list[str]) -> str:
    """`text` when the font draws it, else "#n" (and the name goes to the caption)."""
    if text.isascii() or _font(22)[1]:
        return text
    names.append(f"#{n} {text}")
    return f"#{n}"


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


@lru_cache(maxsize=1)
def _palette() -> Image.Image:
    """The colours drawn, exact, plus what anti-aliasing blends them into (tints toward the white
    ground, a grey ramp for the text): mapping onto it is ~30x faster than choosing a palette per
    picture, and the file is a third of the RGB one."""
    colours = [_rgb(c) for c in (AXIS, GRID, TEXT)] + [(g, g, g) for g in range(0, 256, 15)]
    colours += [tuple(round(v + (255 - v) * k) for v in _rgb(c)) for c in PALETTE for k in (0, .25, .5, .75)]
    flat = [v for c in colours for v in c]
    img = Image.new("P", (1, 1))
    img.putpalette(flat + flat[-3:] * (256 - len(colours)))
    return img


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.quantize(palette=_palette(), dither=Image.Dither.NONE).save(out, "PNG")  # `optimize`: 6x the time, -15 %
    return out.getvalue()


def _y_axis(draw: ImageDraw.ImageDraw, low: int, ticks: list[int], suffix: str) -> Callable[[float], float]:
    font = _font(22)[0]
    bottom = HEIGHT - BOTTOM

    def y(v: float) -> float:
        return bottom - (v - low) / (100 - low) * (bottom - TOP)

    for t in ticks:
        draw.line([(LEFT, y(t)), (PLOT_RIGHT, y(t))], fill=GRID, width=1)
        draw.text((LEFT - 12, y(t)), f"{t}{suffix}", fill=TEXT, font=font, anchor="rm")
    draw.line([(LEFT, TOP), (LEFT, bottom), (PLOT_RIGHT, bottom)], fill=AXIS, width=2)
    return y


def _legend(draw: ImageDraw.ImageDraw, entries: list[tuple[str, str]]) -> None:
    font = _font(22)[0]
    room = WIDTH - PLOT_RIGHT - 76 - 8
    for i, (color, text) in enumerate(entries):
        if font.getlength(text) > room:  # a long mount path: its middle gives way, the value stays
            head, tail = text[:12], text[12:]
            while tail and font.getlength(f"{head}..{tail}") > room:
                tail = tail[1:]
            text = f"{head}..{tail}"
        top = TOP + i * 36
        draw.rectangle([PLOT_RIGHT + 40, top + 4, PLOT_RIGHT + 64, top + 24], fill=color)
        draw.text((PLOT_RIGHT + 76, top + 14), text, fill=TEXT, font=font, anchor="lm")


def availability(c: chartdata.AvailabilityChart) -> Picture:
    img = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(img)
    y = _y_axis(draw, c.floor, c.ticks, "%")
    small, font = _font(18)[0], _font(22)[0]
    names: list[str] = []
    slot = min((PLOT_RIGHT - LEFT) / len(c.bars), 220)
    bar = slot * 0.3
    for i, (name, whole, work) in enumerate(c.bars):
        x = LEFT + slot * i + slot * 0.2
        for j, v in enumerate((whole, work)):
            if v is None:
                continue
            left = x + j * bar
            draw.rectangle([left, y(max(v, c.floor)), left + bar - 4, HEIGHT - BOTTOM], fill=PALETTE[2 * j])
            draw.text((left + bar / 2 - 2, y(max(v, c.floor)) - 6), f"{v:.2f}", fill=TEXT, font=small, anchor="mb")
        draw.text((x + bar, HEIGHT - BOTTOM + 14), _label(name, i + 1, names), fill=TEXT, font=font, anchor="mt")
    cjk = _font(22)[1]
    legend = chartdata.AVAILABILITY_LEGEND if cjk else ("month", "service hours")
    _legend(draw, list(zip((PALETTE[0], PALETTE[2]), legend)))
    caption = [] if cjk else ["图例：month = {}，service hours = {}".format(*chartdata.AVAILABILITY_LEGEND)]
    return Picture(_png(img), c.title, caption + (["横轴：" + "，".join(names)] if names else []))


def disk(c: chartdata.DiskChart) -> Picture:
    img = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(img)
    y = _y_axis(draw, 0, list(range(0, 101, 20)), "%")
    font = _font(22)[0]
    span = max(c.days - 1, 1)

    def x(day: int) -> float:
        return LEFT + (day - 1) / span * (PLOT_RIGHT - LEFT)

    for d in c.day_ticks:
        draw.line([(x(d), HEIGHT - BOTTOM), (x(d), HEIGHT - BOTTOM + 8)], fill=AXIS, width=2)
        draw.text((x(d), HEIGHT - BOTTOM + 14), f"{c.first.month:02d}-{d:02d}", fill=TEXT, font=font, anchor="mt")
    names: list[str] = []
    entries = []
    for i, s in enumerate(c.series):
        color = PALETTE[i % len(PALETTE)]
        draw.line([(x(c.day(day)), y(v)) for day, v in s.points], fill=color, width=4, joint="curve")
        entries.append((color, f"{_label(s.label, i + 1, names)}  {s.points[-1][1]:.1f}%"))
    _legend(draw, entries)
    return Picture(_png(img), c.title, [c.axis_title + "；图例为挂载点及其月末使用率"]
                   + (["图例：" + "，".join(names)] if names else []))


def pictures(data: ReportData) -> dict[str, Picture]:
    """By the key of the table the chart follows, as in the PDF: only charts with data."""
    out: dict[str, Picture] = {}
    if (bars := chartdata.availability(data)) is not None:
        out["systems"] = availability(bars)
    if (trend := chartdata.disk(data)) is not None:
        out["disks"] = disk(trend)
    return out
