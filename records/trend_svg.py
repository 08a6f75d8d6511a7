"""Server-rendered SVG trend chart of one analyte (``records.labs.Trend``).

The SVG is self-contained and safe to inline in a page under a strict CSP: no script, no
event handler, no external resource, no ``style`` attribute or element (presentation
attributes only; CSS classes are provided as hooks). Every text is XML-escaped and every
link is checked (http, https or relative only).

Reading the chart: one panel per series (series never share a y axis since their units
cannot be converted into each other), a hatched band for the reference range drawn as a
step function (each result keeps the range given with it), hollow circles for values in
the range, filled ones outside it (larger when critical), dashed vertical marks where the
unit or the range changed, and a legend. Hatching, fills and dash patterns keep it legible
when printed in black and white. Output is deterministic.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

from records import reference
from records.labs import (
    Change,
    Flag,
    Series,
    Trend,
    TrendPoint,
    format_date_fr,
    format_number_fr,
    when_ordinal,
)

__all__ = ["render_trend_svg"]

MIN_WIDTH = 240
MIN_HEIGHT = 160
_LEFT = 64.0
_RIGHT_MARGIN = 20.0
_TOP = 8.0
_LEGEND_HEIGHT = 20.0
_HEADER = 16.0
_GAP = 10.0
_BOTTOM = 36.0
_MIN_PLOT = 48.0
_PAD = 12.0
_CHAR = 6.0  # average glyph width at font-size 11, to keep labels apart

_COLORS = ("#1f4e79", "#6a3d9a", "#8c510a", "#01665e", "#762a83")
_DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2")
_OUT_FILL = "#b71c1c"
_BAND_FILL = "#e3f0e3"
_BAND_LINE = "#5b8f5b"

_TEXTS = {
    "fr": {
        "empty": "Aucune valeur",
        "unit": "Unité modifiée",
        "range": "Réf. modifiée",
        "both": "Unité et réf. modifiées",
        "band": "Intervalle de référence",
        "out": "Hors intervalle",
        "series": "Série {index} : {unit} ({count} valeur{s})",
        "count": "{label} : {count} valeur{s} du {first} au {last}.",
        "count_one": "{label} : 1 valeur, le {first}.",
        "series_desc": "Série {index} en {unit} : {count} valeur{s}, de {low} à {high}.",
        "out_desc": "{count} valeur{s} hors de l'intervalle de référence.",
        "all_in": "Toutes les valeurs sont dans l'intervalle de référence.",
        "last": "Dernière valeur : {value} le {date} ({flag}).",
        "change_unit": "unité modifiée ({before} → {after})",
        "change_range": "intervalle de référence modifié ({before} → {after})",
        "change": "Le {date} : {what}.",
        "converted": "converti : {value}",
        "links": "Chaque point est un lien vers son compte rendu.",
        "no_range": "sans intervalle",
        "unknown": "non interprété",
    },
    "en": {
        "empty": "No value",
        "unit": "Unit changed",
        "range": "Ref. changed",
        "both": "Unit and ref. changed",
        "band": "Reference range",
        "out": "Out of range",
        "series": "Series {index}: {unit} ({count} value{s})",
        "count": "{label}: {count} value{s} from {first} to {last}.",
        "count_one": "{label}: 1 value, on {first}.",
        "series_desc": "Series {index} in {unit}: {count} value{s}, from {low} to {high}.",
        "out_desc": "{count} value{s} out of the reference range.",
        "all_in": "All values are within the reference range.",
        "last": "Last value: {value} on {date} ({flag}).",
        "change_unit": "unit changed ({before} → {after})",
        "change_range": "reference range changed ({before} → {after})",
        "change": "On {date}: {what}.",
        "converted": "converted: {value}",
        "links": "Each point links to its report.",
        "no_range": "no range",
        "unknown": "not interpreted",
    },
}
_FLAG_EN = {
    Flag.LL: "critically low",
    Flag.L: "low",
    Flag.N: "normal",
    Flag.H: "high",
    Flag.HH: "critically high",
    Flag.A: "abnormal",
}
_LANG_RE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
_INVALID_XML_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


# --------------------------------------------------------------------------------------------
# Escaping, numbers, links
# --------------------------------------------------------------------------------------------


def _text(value: str) -> str:
    cleaned = _INVALID_XML_RE.sub("", value)
    return cleaned.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(value: str) -> str:
    return _text(value).replace('"', "&quot;").replace("'", "&#39;")


def _n(value: float) -> str:
    """A coordinate: two decimals at most, no trailing zeros (deterministic)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _safe_href(href: str) -> str | None:
    candidate = href.strip()
    if not candidate or any(ord(char) < 32 or ord(char) == 127 for char in candidate):
        return None
    try:
        scheme = urlsplit(candidate).scheme.lower()
    except ValueError:
        return None
    if scheme not in ("", "http", "https") or candidate.startswith("\\"):
        return None
    return candidate


@dataclass(frozen=True, slots=True)
class _Locale:
    lang: str
    texts: dict[str, str]

    def number(self, value: float | Decimal, decimals: int | None = None) -> str:
        if self.lang == "fr":
            return format_number_fr(value, decimals)
        if decimals is not None:
            return f"{value:,.{decimals}f}"
        return f"{value:,f}" if isinstance(value, Decimal) else f"{value:,.6g}"

    def flag(self, flag: Flag | None) -> str:
        if flag is None:
            return self.texts["unknown"]
        return flag.label if self.lang == "fr" else _FLAG_EN[flag]

    def plural(self, count: int) -> str:
        return "" if count == 1 else "s"

    def unit(self, code: str) -> str:
        return reference.display_unit_label(code, self.lang)


def _locale(lang: str) -> _Locale:
    base = lang.split("-")[0].lower() if _LANG_RE.match(lang) else "fr"
    key = base if base in _TEXTS else "fr"
    return _Locale(key, _TEXTS[key])


# --------------------------------------------------------------------------------------------
# Scales
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _XScale:
    t0: float
    t1: float
    left: float
    right: float

    def __call__(self, when_value: float) -> float:
        if self.t1 - self.t0 <= 1e-9:
            return (self.left + self.right) / 2
        inner = self.right - self.left - 2 * _PAD
        return self.left + _PAD + (when_value - self.t0) / (self.t1 - self.t0) * inner


@dataclass(frozen=True, slots=True)
class _YScale:
    low: float
    high: float
    top: float
    bottom: float
    ticks: tuple[float, ...]
    decimals: int

    def __call__(self, value: float) -> float:
        y = self.bottom - (value - self.low) / (self.high - self.low) * (self.bottom - self.top)
        return min(max(y, self.top), self.bottom)


def _nice_ticks(low: float, high: float, count: int = 5) -> tuple[float, float, list[float], int]:
    if high - low <= abs(high) * 1e-9 or high - low < 1e-12:
        pad = abs(low) * 0.1 if low != 0 else 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * 0.999)
    start = math.floor(low / step) * step
    end = math.ceil(high / step) * step
    steps = round((end - start) / step)
    ticks = [start + i * step for i in range(steps + 1)]
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    if abs(step / 10 ** math.floor(math.log10(step)) - 2.5) < 1e-9:
        decimals += 1
    return start, end, ticks, decimals


def _series_extent(series: Series) -> tuple[float, float]:
    values = [p.value for p in series.points]
    values += [b for p in series.points for b in (p.low, p.high) if b is not None]
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    if low > 0 and any(p.low is None and p.high is not None for p in series.points):
        low = 0.0  # an upper limit only ("< 34") means 0-34: show the band from 0
    return low, high


# --------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Layout:
    width: float
    height: float
    legend_y: float | None
    panels: tuple[tuple[float, float], ...]  # (top, bottom) of each plot area
    left: float
    right: float


def _layout(width: int, height: int, panels: int, legend: bool) -> _Layout:
    legend_h = _LEGEND_HEIGHT if legend else 0.0
    needed = _TOP + legend_h + panels * (_HEADER + _MIN_PLOT) + (panels - 1) * _GAP + _BOTTOM
    total_h = max(float(height), needed)
    plot_h = (total_h - _TOP - legend_h - _BOTTOM - (panels - 1) * _GAP) / panels - _HEADER
    boxes = []
    cursor = _TOP + legend_h
    for _ in range(panels):
        top = cursor + _HEADER
        boxes.append((top, top + plot_h))
        cursor = top + plot_h + _GAP
    legend_y = _TOP + 10 if legend else None
    return _Layout(float(width), total_h, legend_y, tuple(boxes), _LEFT, width - _RIGHT_MARGIN)


# --------------------------------------------------------------------------------------------
# Pieces
# --------------------------------------------------------------------------------------------


def _uid(trend: Trend, title: str, width: int, height: int) -> str:
    points = trend.points
    key = "|".join(
        [
            title,
            trend.analyte_code,
            str(len(points)),
            str(points[0].when) if points else "",
            str(points[-1].when) if points else "",
            f"{width}x{height}",
        ]
    )
    return "trend-" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:10]


def _open(uid: str, layout: _Layout, lang: str, title: str, desc: str) -> list[str]:
    w, h = _n(layout.width), _n(layout.height)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-labelledby="{uid}-title {uid}-desc" '
        f'lang="{_attr(lang)}" class="trend-chart" font-family="sans-serif" font-size="11">',
        f'<title id="{uid}-title">{_text(title)}</title>',
        f'<desc id="{uid}-desc">{_text(desc)}</desc>',
        "<defs>"
        f'<pattern id="{uid}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)">'
        f'<rect width="6" height="6" fill="{_BAND_FILL}"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{_BAND_LINE}" stroke-width="1"/>'
        "</pattern></defs>",
        f'<rect class="trend-background" x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>',
    ]


def _legend(uid: str, shown: Sequence[Series], layout: _Layout, loc: _Locale) -> list[str]:
    if layout.legend_y is None:
        return []
    y = layout.legend_y
    x = layout.left
    parts = ['<g class="trend-legend">']
    if len(shown) > 1:
        for index, series in enumerate(shown):
            color, dash = _COLORS[index % len(_COLORS)], _DASHES[index % len(_DASHES)]
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            label = loc.texts["series"].format(
                index=index + 1,
                unit=loc.unit(series.unit),
                count=len(series.points),
                s=loc.plural(len(series.points)),
            )
            parts.append(
                f'<line x1="{_n(x)}" y1="{_n(y)}" x2="{_n(x + 22)}" y2="{_n(y)}" '
                f'stroke="{color}" stroke-width="2"{dash_attr}/>'
                f'<text x="{_n(x + 26)}" y="{_n(y + 4)}" fill="#222222">{_text(label)}</text>'
            )
            x += 36 + len(label) * _CHAR
    if any(s.has_range for s in shown):
        label = loc.texts["band"]
        parts.append(
            f'<rect x="{_n(x)}" y="{_n(y - 6)}" width="16" height="12" fill="url(#{uid}-hatch)" '
            f'stroke="{_BAND_LINE}" stroke-width="1"/>'
            f'<text x="{_n(x + 20)}" y="{_n(y + 4)}" fill="#222222">{_text(label)}</text>'
        )
        x += 30 + len(label) * _CHAR
    if any(p.out_of_range for s in shown for p in s.points):
        parts.append(
            f'<circle cx="{_n(x + 5)}" cy="{_n(y)}" r="4.5" fill="{_OUT_FILL}" stroke="#000000" '
            f'stroke-width="1"/><text x="{_n(x + 14)}" y="{_n(y + 4)}" fill="#222222">'
            f"{_text(loc.texts['out'])}</text>"
        )
    parts.append("</g>")
    return parts


def _y_axis(scale: _YScale, layout: _Layout, series: Series, loc: _Locale) -> list[str]:
    parts = ['<g class="trend-y-axis">']
    for tick in scale.ticks:
        y = _n(scale(tick))
        parts.append(
            f'<line x1="{_n(layout.left)}" y1="{y}" x2="{_n(layout.right)}" y2="{y}" '
            'stroke="#e6e6e6" stroke-width="1"/>'
            f'<text x="{_n(layout.left - 6)}" y="{_n(scale(tick) + 4)}" text-anchor="end" '
            f'fill="#333333">{_text(loc.number(tick, scale.decimals))}</text>'
        )
    parts.append(
        f'<line x1="{_n(layout.left)}" y1="{_n(scale.top)}" x2="{_n(layout.left)}" '
        f'y2="{_n(scale.bottom)}" stroke="#444444" stroke-width="1"/>'
        f'<line x1="{_n(layout.left)}" y1="{_n(scale.bottom)}" x2="{_n(layout.right)}" '
        f'y2="{_n(scale.bottom)}" stroke="#444444" stroke-width="1"/>'
        f'<text class="trend-unit" x="4" y="{_n(scale.top - 5)}" fill="#222222" '
        f'font-weight="bold">{_text(loc.unit(series.unit))}</text>'
        "</g>"
    )
    return parts


def _band_segments(
    series: Series, x: _XScale, layout: _Layout
) -> list[tuple[float, float, float | None, float | None]]:
    """(x_start, x_end, low, high) steps, consecutive equal ranges merged."""
    points = series.points
    segments: list[tuple[float, float, float | None, float | None]] = []
    for index, point in enumerate(points):
        start = layout.left if index == 0 else x(when_ordinal(point.when))
        end = x(when_ordinal(points[index + 1].when)) if index + 1 < len(points) else layout.right
        if segments and segments[-1][2:] == (point.low, point.high):
            segments[-1] = (segments[-1][0], end, point.low, point.high)
        else:
            segments.append((start, end, point.low, point.high))
    return segments


def _band(uid: str, series: Series, x: _XScale, y: _YScale, layout: _Layout) -> list[str]:
    parts = ['<g class="trend-band">']
    for start, end, low, high in _band_segments(series, x, layout):
        if (low is None and high is None) or end - start <= 0:
            continue
        top = y(high) if high is not None else y.top
        bottom = y(low) if low is not None else y.bottom
        parts.append(
            f'<rect x="{_n(start)}" y="{_n(top)}" width="{_n(end - start)}" '
            f'height="{_n(max(bottom - top, 0.0))}" fill="url(#{uid}-hatch)" fill-opacity="0.9"/>'
        )
        for edge in (low, high):
            if edge is not None:
                parts.append(
                    f'<line x1="{_n(start)}" y1="{_n(y(edge))}" x2="{_n(end)}" '
                    f'y2="{_n(y(edge))}" stroke="{_BAND_LINE}" stroke-width="1"/>'
                )
    parts.append("</g>")
    return parts


def _range_text(point: TrendPoint, loc: _Locale) -> str:
    low, high = point.original_low, point.original_high
    unit = loc.unit(point.original_unit)
    if low is not None and high is not None:
        return f"{loc.number(low)}–{loc.number(high)} {unit}"
    if low is not None:
        return f"≥ {loc.number(low)} {unit}"
    if high is not None:
        return f"≤ {loc.number(high)} {unit}"
    return loc.texts["no_range"]


def _change_text(change: Change, loc: _Locale) -> str:
    what = []
    if change.unit_changed:
        what.append(
            loc.texts["change_unit"].format(
                before=loc.unit(change.previous.original_unit),
                after=loc.unit(change.current.original_unit),
            )
        )
    if change.range_changed:
        what.append(
            loc.texts["change_range"].format(
                before=_range_text(change.previous, loc), after=_range_text(change.current, loc)
            )
        )
    return loc.texts["change"].format(date=format_date_fr(change.when), what=" ; ".join(what))


def _marks(
    changes: Sequence[Change], x: _XScale, y: _YScale, layout: _Layout, loc: _Locale
) -> list[str]:
    parts = ['<g class="trend-changes">']
    label_end = 4 + len(loc.unit(changes[0].current.unit)) * _CHAR + 8 if changes else 0
    for change in changes:
        xc = x(when_ordinal(change.when))
        parts.append(
            f'<line class="trend-change" x1="{_n(xc)}" y1="{_n(y.top - 2)}" x2="{_n(xc)}" '
            f'y2="{_n(y.bottom)}" stroke="#555555" stroke-width="1" stroke-dasharray="4 3">'
            f"<title>{_text(_change_text(change, loc))}</title></line>"
        )
        text = loc.texts[_change_key(change)]
        text_width = len(text) * _CHAR * 10 / 11
        start, anchor, text_x = xc + 3, "start", xc + 3
        if start + text_width > layout.width - 2:  # near the right edge: write to the left
            start, anchor, text_x = xc - 3 - text_width, "end", xc - 3
        if start >= label_end:
            parts.append(
                f'<text class="trend-change-label" x="{_n(text_x)}" y="{_n(y.top - 5)}" '
                f'text-anchor="{anchor}" fill="#555555" font-size="10">'
                f"{_text(text)}</text>"
            )
            label_end = start + text_width + 6
    parts.append("</g>")
    return parts


def _change_key(change: Change) -> str:
    if change.unit_changed and change.range_changed:
        return "both"
    return "unit" if change.unit_changed else "range"


def _point_title(point: TrendPoint, loc: _Locale) -> str:
    original = f"{loc.number(point.original_value)} {loc.unit(point.original_unit)}"
    if point.converted:
        converted = f"{loc.number(point.value)} {loc.unit(point.unit)}"
        original += " (" + loc.texts["converted"].format(value=converted) + ")"
    return f"{format_date_fr(point.when)} : {original} — {loc.flag(point.flag)}"


def _points(series: Series, index: int, x: _XScale, y: _YScale, loc: _Locale) -> list[str]:
    color, dash = _COLORS[index % len(_COLORS)], _DASHES[index % len(_DASHES)]
    coords = [(x(when_ordinal(p.when)), y(p.value)) for p in series.points]
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    path = " ".join(f"{_n(cx)},{_n(cy)}" for cx, cy in coords)
    parts = [
        f'<polyline class="trend-line" points="{path}" fill="none" stroke="{color}" '
        f'stroke-width="2" stroke-linejoin="round"{dash_attr}/>'
    ]
    for point, (cx, cy) in zip(series.points, coords, strict=True):
        parts.append(_circle(point, cx, cy, color, loc))
    return parts


def _circle(point: TrendPoint, cx: float, cy: float, color: str, loc: _Locale) -> str:
    classes = "trend-point"
    fill, stroke, radius, width = "#ffffff", color, 4.0, 2
    if point.out_of_range:
        classes += " trend-point-out"
        fill, stroke, radius = _OUT_FILL, "#000000", 4.5
    if point.flag is not None and point.flag.is_critical:
        classes += " trend-point-critical"
        radius, width = 6.0, 3
    title = _point_title(point, loc)
    circle = (
        f'<circle class="{classes}" cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(radius)}" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="{width}">'
        f"<title>{_text(title)}</title></circle>"
    )
    href = _safe_href(point.href)
    if href is None:
        return circle
    return f'<a class="trend-link" href="{_attr(href)}" aria-label="{_attr(title)}">{circle}</a>'


def _x_ticks(trend: Trend, x: _XScale) -> list[tuple[float, str]]:
    """(x, label) of the dates shown under the axis: point dates, kept apart, no repeats."""
    ticks: list[tuple[float, str]] = []
    for point in trend.points:
        label = format_date_fr(point.when)
        xc = x(when_ordinal(point.when))
        if ticks and (label == ticks[-1][1] or xc - ticks[-1][0] < 13 * _CHAR):
            continue
        ticks.append((xc, label))
    return ticks


def _x_grid(ticks: Sequence[tuple[float, str]], layout: _Layout) -> list[str]:
    top, bottom = layout.panels[0][0], layout.panels[-1][1]
    parts = ['<g class="trend-x-grid">']
    parts.extend(
        f'<line x1="{_n(xc)}" y1="{_n(top)}" x2="{_n(xc)}" y2="{_n(bottom)}" '
        'stroke="#f0f0f0" stroke-width="1"/>'
        for xc, _ in ticks
    )
    parts.append("</g>")
    return parts


def _x_axis(ticks: Sequence[tuple[float, str]], layout: _Layout) -> list[str]:
    bottom = layout.panels[-1][1]
    parts = ['<g class="trend-x-axis">']
    parts.extend(
        f'<line x1="{_n(xc)}" y1="{_n(bottom)}" x2="{_n(xc)}" y2="{_n(bottom + 4)}" '
        'stroke="#444444" stroke-width="1"/>'
        f'<text x="{_n(xc)}" y="{_n(bottom + 16)}" text-anchor="middle" '
        f'fill="#333333">{_text(label)}</text>'
        for xc, label in ticks
    )
    parts.append("</g>")
    return parts


# --------------------------------------------------------------------------------------------
# Description (accessible summary)
# --------------------------------------------------------------------------------------------


def _describe(trend: Trend, loc: _Locale) -> str:
    points = trend.points
    texts = loc.texts
    first, last = format_date_fr(points[0].when), format_date_fr(points[-1].when)
    count = len(points)
    if count == 1:
        sentences = [texts["count_one"].format(label=trend.label, first=first)]
    else:
        sentences = [
            texts["count"].format(label=trend.label, count=count, s="s", first=first, last=last)
        ]
    for index, series in enumerate(trend.series, start=1):
        values = [p.value for p in series.points]
        sentences.append(
            texts["series_desc"].format(
                index=index,
                unit=loc.unit(series.unit),
                count=len(values),
                s=loc.plural(len(values)),
                low=loc.number(min(values)),
                high=loc.number(max(values)),
            )
        )
    sentences.extend(_describe_flags(trend, loc))
    sentences.extend(_change_text(change, loc) for change in trend.changes)
    if any(_safe_href(p.href) for p in points):
        sentences.append(texts["links"])
    return " ".join(sentences)


def _describe_flags(trend: Trend, loc: _Locale) -> list[str]:
    points = trend.points
    sentences = []
    out = sum(1 for p in points if p.out_of_range)
    if out:
        sentences.append(loc.texts["out_desc"].format(count=out, s=loc.plural(out)))
    elif any(p.flag is not None for p in points):
        sentences.append(loc.texts["all_in"])
    latest = points[-1]
    value = f"{loc.number(latest.original_value)} {loc.unit(latest.original_unit)}"
    sentences.append(
        loc.texts["last"].format(
            value=value, date=format_date_fr(latest.when), flag=loc.flag(latest.flag)
        )
    )
    return sentences


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _empty(uid: str, layout: _Layout, lang: str, title: str, loc: _Locale) -> str:
    parts = _open(uid, layout, lang, title, loc.texts["empty"])
    parts.append(
        f'<text class="trend-empty" x="{_n(layout.width / 2)}" y="{_n(layout.height / 2)}" '
        f'text-anchor="middle" font-size="14" fill="#555555">{_text(loc.texts["empty"])}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _check_size(width: int, height: int) -> tuple[int, int]:
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer")
    return max(width, MIN_WIDTH), max(height, MIN_HEIGHT)


def render_trend_svg(
    trend: Trend, *, width: int = 720, height: int = 320, title: str, lang: str = "fr"
) -> str:
    """The trend as a complete ``<svg>`` document (a string), accessible and self-contained.

    ``title`` becomes the SVG ``<title>``; a ``<desc>`` summarises the values, the
    out-of-range count, the last value and every unit or range change. ``lang`` selects the
    wording ("fr", the default, or "en"); dates are dd/mm/yyyy. The height grows when
    several series need their own panels.
    """
    width, height = _check_size(width, height)
    loc = _locale(lang)
    lang_attr = lang if _LANG_RE.match(lang) else "fr"
    uid = _uid(trend, title, width, height)
    series = [s for s in trend.series if s.points]
    if not series:
        return _empty(uid, _layout(width, height, 1, False), lang_attr, title, loc)
    legend = len(series) > 1 or any(s.has_range for s in series)
    legend = legend or any(p.out_of_range for p in trend.points)
    layout = _layout(width, height, len(series), legend)
    times = [when_ordinal(p.when) for p in trend.points]
    x = _XScale(min(times), max(times), layout.left, layout.right)
    parts = _open(uid, layout, lang_attr, title, _describe(trend, loc))
    parts += _legend(uid, series, layout, loc)
    dates = _x_ticks(trend, x)
    parts += _x_grid(dates, layout)
    changes = trend.changes
    for index, (current, (top, bottom)) in enumerate(zip(series, layout.panels, strict=True)):
        low, high, ticks, decimals = _nice_ticks(*_series_extent(current))
        y = _YScale(low, high, top, bottom, tuple(ticks), decimals)
        parts.append(f'<g class="trend-panel" data-unit="{_attr(current.unit)}">')
        parts += _band(uid, current, x, y, layout)
        parts += _y_axis(y, layout, current, loc)
        own = [c for c in changes if trend.series[c.series_index] is current]
        parts += _marks(own, x, y, layout, loc)
        parts += _points(current, index, x, y, loc)
        parts.append("</g>")
    parts += _x_axis(dates, layout)
    parts.append("</svg>")
    return "".join(parts)
