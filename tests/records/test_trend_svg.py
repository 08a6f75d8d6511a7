"""The trend chart: well-formed, safe under a strict CSP, accessible, deterministic."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from records.labs import Flag, ObservationPoint, Trend, build_trend
from records.trend_svg import render_trend_svg

SVG = "{http://www.w3.org/2000/svg}"
D = Decimal


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output


def assert_safe(svg: str) -> ET.Element:
    """Well-formed, no script, no handler, no inline style, no external resource."""
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert "<script" not in svg.lower()
    assert "style=" not in svg.lower()
    assert "javascript:" not in svg.lower()
    for element in root.iter():
        assert element.tag not in (f"{SVG}script", f"{SVG}style", f"{SVG}foreignObject")
        assert element.tag != f"{SVG}image"
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), name
            assert name != "style"
            if name == "href":
                assert urlsplit(value).scheme.lower() in ("", "http", "https"), value
            if "url(" in value:
                assert re.fullmatch(r"url\(#[\w-]+\)", value), value
    assert re.search(r"\son\w+\s*=", svg, re.I) is None
    return root


def texts(root: ET.Element) -> list[str]:
    return ["".join(e.itertext()) for e in root.iter(f"{SVG}text")]


def point(
    day: date,
    value: str,
    unit: str = "mmol/L",
    low: str | None = "3.5",
    high: str | None = "5",
    href: str = "/dmp/compte-rendu/1/",
    flag: Flag | None = None,
) -> ObservationPoint:
    return ObservationPoint(
        when=day,
        value=D(value),
        unit=unit,
        low=None if low is None else D(low),
        high=None if high is None else D(high),
        href=href,
        flag=flag,
    )


def potassium() -> Trend:
    return build_trend(
        "2823-3",
        [
            point(date(2022, 1, 10), "4.1", href="/dmp/cr/1/"),
            point(date(2022, 6, 3), "5.6", href="/dmp/cr/2/"),
            point(date(2023, 2, 14), "3.9", low="3.6", high="5.2", href="/dmp/cr/3/"),
            point(date(2024, 3, 5), "2.4", low="3.6", high="5.2", href="/dmp/cr/4/", flag=Flag.LL),
        ],
    )


def test_chart_basics() -> None:
    svg = render_trend_svg(potassium(), title="Potassium")
    root = assert_safe(svg)
    assert root.get("role") == "img"
    assert root.get("lang") == "fr"
    assert root.get("width") == "720" and root.get("height") == "320"
    assert root.get("viewBox") == "0 0 720 320"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text == "Potassium"
    assert desc is not None and desc.text
    labelled = (root.get("aria-labelledby") or "").split()
    assert labelled == [title.get("id"), desc.get("id")]
    assert "4 valeurs du 10/01/2022 au 05/03/2024" in desc.text
    assert "2 valeurs hors de l'intervalle de référence" in desc.text
    assert "Dernière valeur : 2,4 mmol/L le 05/03/2024 (Très bas (critique))" in desc.text
    assert "intervalle de référence modifié (3,5–5 mmol/L → 3,6–5,2 mmol/L)" in desc.text


def test_points_are_links_to_their_reports() -> None:
    root = parse(render_trend_svg(potassium(), title="Potassium"))
    links = list(root.iter(f"{SVG}a"))
    assert [a.get("href") for a in links] == [f"/dmp/cr/{i}/" for i in range(1, 5)]
    for link in links:
        circle = link.find(f"{SVG}circle")
        assert circle is not None
        tooltip = circle.find(f"{SVG}title")
        assert tooltip is not None and tooltip.text
        assert link.get("aria-label") == tooltip.text
    assert links[1].find(f"{SVG}circle/{SVG}title").text == (  # type: ignore[union-attr]
        "03/06/2022 : 5,6 mmol/L — Élevé"
    )


def test_out_of_range_and_critical_points_are_highlighted() -> None:
    root = parse(render_trend_svg(potassium(), title="Potassium"))
    circles = [c for c in root.iter(f"{SVG}circle") if "trend-point" in (c.get("class") or "")]
    classes = [c.get("class") for c in circles]
    assert classes == [
        "trend-point",
        "trend-point trend-point-out",
        "trend-point",
        "trend-point trend-point-out trend-point-critical",
    ]
    assert circles[0].get("fill") == "#ffffff"
    assert circles[1].get("fill") != circles[0].get("fill")  # filled vs hollow: prints in B/W
    assert float(circles[3].get("r") or 0) > float(circles[1].get("r") or 0)


def hba1c() -> Trend:
    values = [("5.6", 2021), ("5.9", 2022), ("6.3", 2023)]
    return build_trend("4548-4", [point(date(y, 1, 1), v, "%", "5.5", "6") for v, y in values])


def test_axes_use_french_dates_and_decimal_commas() -> None:
    labels = texts(parse(render_trend_svg(potassium(), title="Potassium")))
    for day in ("10/01/2022", "03/06/2022", "14/02/2023", "05/03/2024"):
        assert day in labels
    assert "mmol/L" in labels
    ticks = texts(parse(render_trend_svg(hba1c(), title="HbA1c")))
    assert "5,6" in ticks and "6,2" in ticks, ticks
    assert not any(re.fullmatch(r"\d+\.\d+", label) for label in ticks)


def test_reference_band_follows_range_changes() -> None:
    root = parse(render_trend_svg(potassium(), title="Potassium"))
    band = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "trend-band")
    rects = band.findall(f"{SVG}rect")
    assert len(rects) == 2  # 3,5-5 then 3,6-5,2: two steps
    assert all(r.get("fill", "").startswith("url(#") for r in rects)
    first, second = (float(r.get("y") or 0) for r in rects)
    assert first != second
    first_end = float(rects[0].get("x") or 0) + float(rects[0].get("width") or 0)
    assert first_end == pytest.approx(float(rects[1].get("x") or 0))


def test_changes_are_marked_with_dashed_lines() -> None:
    trend = build_trend(
        "2160-0",
        [
            point(date(2021, 1, 1), "90", "umol/L", "60", "110"),
            point(date(2022, 1, 1), "10", "mg/L", "6", "12"),
            point(date(2023, 1, 1), "11", "mg/L", "6", "13"),
        ],
    )
    root = assert_safe(render_trend_svg(trend, title="Créatinine"))
    marks = [ln for ln in root.iter(f"{SVG}line") if ln.get("class") == "trend-change"]
    assert len(marks) == len(trend.changes) == 2
    assert all(m.get("stroke-dasharray") for m in marks)
    tooltip = marks[0].find(f"{SVG}title")
    assert tooltip is not None
    assert "unité modifiée (µmol/L → mg/L)" in (tooltip.text or "")
    labels = texts(root)
    assert "Unité et réf. modifiées" in labels


def test_text_is_escaped() -> None:
    trend = build_trend(
        "2345-7",
        [point(date(2024, 1, 1), "5", href='/cr/1/?a=1&b="x"&c=<script>')],
        label="<script>alert('x')</script>",
    )
    svg = render_trend_svg(trend, title="<script>alert(1)</script> & co")
    root = assert_safe(svg)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in svg
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == "<script>alert(1)</script> & co"
    link = root.find(f".//{SVG}a")
    assert link is not None and link.get("href") == '/cr/1/?a=1&b="x"&c=<script>'
    desc = root.find(f"{SVG}desc")
    assert desc is not None and "<script>alert('x')</script>" in (desc.text or "")


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox",
        "",
        "   ",
        "\\\\evil.example/x",
    ],
)
def test_unsafe_links_are_dropped_but_the_point_stays(href: str) -> None:
    trend = build_trend("2345-7", [point(date(2024, 1, 1), "5", href=href)])
    root = assert_safe(render_trend_svg(trend, title="Glucose"))
    assert root.find(f".//{SVG}a") is None
    assert len([c for c in root.iter(f"{SVG}circle") if c.get("class") == "trend-point"]) == 1


def test_absolute_http_links_are_kept() -> None:
    trend = build_trend("2345-7", [point(date(2024, 1, 1), "5", href="https://dmp.example/cr/1")])
    root = assert_safe(render_trend_svg(trend, title="Glucose"))
    link = root.find(f".//{SVG}a")
    assert link is not None and link.get("href") == "https://dmp.example/cr/1"


def test_no_value() -> None:
    svg = render_trend_svg(build_trend("2345-7", []), title="Glucose")
    root = assert_safe(svg)
    assert texts(root) == ["Aucune valeur"]
    desc = root.find(f"{SVG}desc")
    assert desc is not None and desc.text == "Aucune valeur"
    assert root.find(f".//{SVG}polyline") is None


def test_one_point() -> None:
    trend = build_trend("2345-7", [point(date(2024, 1, 1), "5.2")])
    root = assert_safe(render_trend_svg(trend, title="Glucose"))
    circles = [c for c in root.iter(f"{SVG}circle") if "trend-point" in (c.get("class") or "")]
    assert len(circles) == 1
    assert float(circles[0].get("cx") or 0) == pytest.approx((64 + 700) / 2)
    desc = root.find(f"{SVG}desc")
    assert desc is not None and "1 valeur, le 01/01/2024" in (desc.text or "")
    assert texts(root).count("01/01/2024") == 1


def test_identical_values_and_identical_dates() -> None:
    same_values = build_trend(
        "2345-7",
        [point(date(2020 + i, 1, 1), "5.0", low=None, high=None) for i in range(4)],
    )
    root = assert_safe(render_trend_svg(same_values, title="Glucose"))
    ys = {c.get("cy") for c in root.iter(f"{SVG}circle") if c.get("class") == "trend-point"}
    assert len(ys) == 1
    same_day = build_trend(
        "2345-7", [point(date(2024, 1, 1), v, low=None, high=None) for v in ("4", "5", "6")]
    )
    root = assert_safe(render_trend_svg(same_day, title="Glucose"))
    xs = {c.get("cx") for c in root.iter(f"{SVG}circle") if c.get("class") == "trend-point"}
    assert len(xs) == 1
    zeros = build_trend("2345-7", [point(date(2024, 1, 1), "0", low=None, high=None)])
    assert_safe(render_trend_svg(zeros, title="Zéro"))


def test_several_series_get_panels_and_a_legend() -> None:
    trend = build_trend(
        "10835-7",
        [
            point(date(2020, 1, 1), "0.30", "g/L", None, "0.5"),
            point(date(2021, 1, 1), "120", "nmol/L", None, "75"),
            point(date(2022, 1, 1), "0.62", "g/L", None, "0.5"),
        ],
    )
    root = assert_safe(render_trend_svg(trend, title="Lp(a)"))
    lines = root.findall(f".//{SVG}polyline")
    assert len(lines) == 2
    assert lines[0].get("stroke-dasharray") != lines[1].get("stroke-dasharray")
    panels = [g for g in root.iter(f"{SVG}g") if g.get("class") == "trend-panel"]
    assert [p.get("data-unit") for p in panels] == ["g/L", "nmol/L"]
    legend = texts(next(g for g in root.iter(f"{SVG}g") if g.get("class") == "trend-legend"))
    assert "Série 1 : g/L (2 valeurs)" in legend
    assert "Série 2 : nmol/L (1 valeur)" in legend
    assert "Intervalle de référence" in legend


def test_many_series_grow_the_chart() -> None:
    units = ["g/L", "nmol/L", "bananas", "apples", "pears", "plums"]
    trend = build_trend(
        "10835-7", [point(date(2020 + i, 1, 1), "1", u) for i, u in enumerate(units)]
    )
    root = assert_safe(render_trend_svg(trend, title="Lp(a)", height=200))
    assert float(root.get("height") or 0) > 200


def test_output_is_deterministic() -> None:
    assert render_trend_svg(potassium(), title="K") == render_trend_svg(potassium(), title="K")


def test_ids_are_unique_within_a_chart() -> None:
    root = parse(render_trend_svg(potassium(), title="K"))
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids)) == 3


def test_english_wording() -> None:
    root = parse(render_trend_svg(potassium(), title="Potassium", lang="en-GB"))
    assert root.get("lang") == "en-GB"
    desc = root.find(f"{SVG}desc")
    assert desc is not None and "4 values from 10/01/2022 to 05/03/2024" in (desc.text or "")
    ticks = texts(parse(render_trend_svg(hba1c(), title="HbA1c", lang="en")))
    assert "5.6" in ticks and not any(re.fullmatch(r"\d+,\d+", t) for t in ticks)
    empty = parse(render_trend_svg(build_trend("2345-7", []), title="x", lang="en"))
    assert texts(empty) == ["No value"]


def test_unknown_or_malformed_language_falls_back_to_french() -> None:
    assert parse(render_trend_svg(potassium(), title="K", lang="de")).get("lang") == "de"
    bad = parse(render_trend_svg(potassium(), title="K", lang='"><script>'))
    assert bad.get("lang") == "fr"
    assert "Aucune valeur" in render_trend_svg(build_trend("1-8", []), title="K", lang="xx")


def test_size_validation() -> None:
    with pytest.raises(ValueError, match="width"):
        render_trend_svg(potassium(), title="K", width=0)
    with pytest.raises(ValueError, match="height"):
        render_trend_svg(potassium(), title="K", height=-5)
    with pytest.raises(ValueError, match="width"):
        render_trend_svg(potassium(), title="K", width=12.5)  # type: ignore[arg-type]
    small = parse(render_trend_svg(potassium(), title="K", width=10, height=10))
    assert small.get("width") == "240"


def test_upper_limit_only_puts_zero_on_the_axis() -> None:
    trend = build_trend(
        "89579-7",
        [point(date(2024, 5, 1), "20", "ng/L", None, "34"), point(date(2024, 5, 2), "60", "ng/L")],
    )
    assert "0" in texts(parse(render_trend_svg(trend, title="Troponine")))


def test_datetimes_on_the_same_day() -> None:
    trend = build_trend(
        "89579-7",
        [
            point(datetime(2024, 5, 1, 8), "20", "ng/L", None, "34"),
            point(datetime(2024, 5, 1, 11), "60", "ng/L", None, "34"),
        ],
    )
    root = assert_safe(render_trend_svg(trend, title="Troponine"))
    xs = [c.get("cx") for c in root.iter(f"{SVG}circle") if "trend-point" in (c.get("class") or "")]
    assert len(set(xs)) == 2
    assert texts(root).count("01/05/2024") == 1


_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40
)  # any character, controls included


@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=st.lists(
        st.tuples(
            st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 1, 1)),
            st.decimals(min_value=-50, max_value=10**6, places=3),
            st.sampled_from(["g/L", "mmol/L", "mg/dL", "bananas", "%"]),
            st.none() | st.decimals(min_value=0, max_value=10, places=1),
            st.none() | st.decimals(min_value=10, max_value=1000, places=1),
            _text,
            st.none() | st.sampled_from(list(Flag)),
        ),
        max_size=10,
    ),
    title=_text,
    label=_text,
    width=st.integers(min_value=1, max_value=1600),
    height=st.integers(min_value=1, max_value=900),
    lang=st.sampled_from(["fr", "en", "de", "", "fr-FR", "<x>"]),
)
def test_any_trend_renders_a_safe_well_formed_svg(
    raw: list[tuple[date, Decimal, str, Decimal | None, Decimal | None, str, Flag | None]],
    title: str,
    label: str,
    width: int,
    height: int,
    lang: str,
) -> None:
    points = [
        ObservationPoint(day, value, unit, low, high, href, flag=flag)
        for day, value, unit, low, high, href, flag in raw
    ]
    trend = build_trend("2345-7", points, label=label or None)
    svg = render_trend_svg(trend, title=title, width=width, height=height, lang=lang)
    root = assert_safe(svg)
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}desc") is not None
    assert len(root.findall(f".//{SVG}polyline")) == len(trend.series)
    circles = [c for c in root.iter(f"{SVG}circle") if "trend-point" in (c.get("class") or "")]
    assert len(circles) == len(points)
    for element in root.iter():
        for name in ("x", "y", "cx", "cy", "width", "height", "r"):
            value = element.get(name)
            if value is not None and not value.endswith("%"):
                assert re.fullmatch(r"-?\d+(\.\d+)?", value), (name, value)
    assert svg == render_trend_svg(trend, title=title, width=width, height=height, lang=lang)
