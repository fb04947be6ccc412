"""Small SVG charts for count reports: an estimate line in its 90 % band, reports as marks.

Drawn by hand rather than with a plotting library: the charts are simple,
must look the same in the browser and in the PDF (WeasyPrint renders SVG),
and a report draws a handful of them, so a heavy dependency would not earn
its place.
"""

import math
from datetime import date
from html import escape

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 36
BAND = "#c6dbef"
LINE = "#08519c"
MARK = "#e6550d"
OUTLIER = "#a50f15"


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / max(ticks, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _number(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:,.0f}k"
    return f"{value:,.0f}"


def band_chart(series: list[dict], reports: list[dict] | None = None, *, label: str = "") -> str:
    """An estimate series in its band, with reports as marks.

    ``series``: [{date, estimate, low, high}] in date order;
    ``reports``: [{date, qualifier, value, low, high, is_outlier}].
    """
    reports = reports or []
    if not series:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="40" role="img">'
            f'<text x="4" y="24" font-size="12" fill="#555">No estimates in this period.</text></svg>'
        )
    days = [date.fromisoformat(point["date"]) for point in series]
    first, last = days[0].toordinal(), days[-1].toordinal()
    values = [v for point in series for v in (point["low"], point["high"], point["estimate"])]
    values += [v for r in reports for v in (r.get("value"), r.get("low"), r.get("high")) if v is not None]
    top_value = max(values) * 1.08 or 1
    step = _nice_step(top_value)
    top_value = math.ceil(top_value / step) * step
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: date) -> float:
        return LEFT + (plot_w * (day.toordinal() - first) / (last - first) if last > first else plot_w / 2)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top_value)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}" font-family="DejaVu Sans, sans-serif">'
    ]
    tick = 0.0
    while tick <= top_value + 1e-9:  # horizontal grid with the people count
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#e5e5e5"/>'
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" font-size="10" text-anchor="end" fill="#555">'
            f"{_number(tick)}</text>"
        )
        tick += step
    band = [f"{x(d):.1f},{y(p['high']):.1f}" for d, p in zip(days, series)]
    band += [f"{x(d):.1f},{y(p['low']):.1f}" for d, p in reversed(list(zip(days, series)))]
    parts.append(f'<polygon points="{" ".join(band)}" fill="{BAND}" stroke="none"/>')
    line = " ".join(f"{x(d):.1f},{y(p['estimate']):.1f}" for d, p in zip(days, series))
    parts.append(f'<polyline points="{line}" fill="none" stroke="{LINE}" stroke-width="2"/>')
    for r in reports:
        day = date.fromisoformat(r["date"])
        if not first <= day.toordinal() <= last:
            continue
        colour = OUTLIER if r.get("is_outlier") else MARK
        cx = x(day)
        if r["qualifier"] == "range" and r.get("low") is not None and r.get("high") is not None:
            parts.append(
                f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(r["low"]):.1f}" y2="{y(r["high"]):.1f}" '
                f'stroke="{colour}" stroke-width="2"/>'
            )
        elif r["qualifier"] == "at_least" and r.get("value") is not None:
            cy = y(r["value"])  # a triangle pointing up: "at least"
            up = f"{cx - 5:.1f},{cy + 4:.1f} {cx + 5:.1f},{cy + 4:.1f} {cx:.1f},{cy - 5:.1f}"
            parts.append(f'<polygon points="{up}" fill="{colour}"/>')
        elif r["qualifier"] == "at_most" and r.get("value") is not None:
            cy = y(r["value"])
            down = f"{cx - 5:.1f},{cy - 4:.1f} {cx + 5:.1f},{cy - 4:.1f} {cx:.1f},{cy + 5:.1f}"
            parts.append(f'<polygon points="{down}" fill="{colour}"/>')
        elif r.get("value") is not None:
            fill = "white" if r.get("is_outlier") else colour
            parts.append(
                f'<circle cx="{cx:.1f}" cy="{y(r["value"]):.1f}" r="3.5" fill="{fill}" '
                f'stroke="{colour}" stroke-width="1.5"/>'
            )
    # Dates: first, middle, last.
    for day in sorted({days[0], days[len(days) // 2], days[-1]}):
        # The first and last labels hang inwards so that neither is cut at the edge.
        anchor = (
            "start" if day == days[0] and len(days) > 1 else "end" if day == days[-1] and len(days) > 1 else "middle"
        )
        parts.append(
            f'<text x="{x(day):.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="10" text-anchor="{anchor}" fill="#555">'
            f"{day.isoformat()}</text>"
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#999"/>'
        f'<g font-size="10" fill="#333"><rect x="{LEFT + 4}" y="{HEIGHT - 13}" width="12" height="8" fill="{BAND}"/>'
        f'<text x="{LEFT + 20}" y="{HEIGHT - 5}">90 % band</text>'
        f'<line x1="{LEFT + 90}" x2="{LEFT + 104}" y1="{HEIGHT - 9}" y2="{HEIGHT - 9}" '
        f'stroke="{LINE}" stroke-width="2"/>'
        f'<text x="{LEFT + 108}" y="{HEIGHT - 5}">estimate</text>'
    )
    if reports:
        parts.append(
            f'<circle cx="{LEFT + 170}" cy="{HEIGHT - 9}" r="3.5" fill="{MARK}"/>'
            f'<text x="{LEFT + 178}" y="{HEIGHT - 5}">'
            "reports (▲ at least, ▼ at most, | range; dark red or hollow: outlier)</text>"
        )
    parts.append("</g></svg>")
    return "".join(parts)
