"""Small charts drawn on the server as SVG: no JavaScript, no CDN, nothing to vendor.

The SVG is meant to be inlined in an admin page: its colours come from the admin's CSS variables
(so it follows dark mode), with fallbacks that keep it legible on its own. Every piece of text
is escaped; the result is well-formed XML.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

INTERVALS = 4  # horizontal grid intervals; both axes share them so the gridlines serve both
NICE_STEPS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))
LINE_COLOUR = "#d97706"  # amber: readable on the admin's light and dark backgrounds alike

STYLE = f"""
.smm-chart text {{ fill: var(--body-quiet-color, #666); font: 11px var(--font-family-primary, sans-serif); }}
.smm-chart .smm-chart-legend text {{ fill: var(--body-fg, #333); }}
.smm-chart-grid {{ stroke: var(--hairline-color, #e8e8e8); stroke-width: 1; }}
.smm-chart-axis {{ stroke: var(--border-color, #ccc); stroke-width: 1; }}
.smm-chart-bar {{ fill: var(--secondary, #417690); }}
.smm-chart-hit {{ fill: transparent; }}
.smm-chart-day:hover .smm-chart-hit {{ fill: var(--selected-bg, #e4e4e4); }}
.smm-chart-line {{ fill: none; stroke: {LINE_COLOUR}; stroke-width: 2; stroke-linejoin: round; pointer-events: none; }}
.smm-chart-point {{ fill: {LINE_COLOUR}; stroke: var(--body-bg, #fff); stroke-width: 1; }}
"""


@dataclass(frozen=True)
class Scale:
    """A linear axis from `low` to `low + INTERVALS × step`, mapped onto [bottom, top] pixels."""

    low: Decimal
    step: Decimal
    top: float
    bottom: float

    @property
    def high(self) -> Decimal:
        return self.low + self.step * INTERVALS

    @property
    def ticks(self) -> list[Decimal]:
        return [self.low + self.step * n for n in range(INTERVALS + 1)]

    def y(self, value: Decimal | int) -> float:
        # Floats for pixel positions only; the values themselves stay Decimal.
        share = float((Decimal(value) - self.low) / (self.high - self.low))
        return self.bottom - share * (self.bottom - self.top)


def _nice_at_least(value: Decimal, *, integer: bool) -> Decimal:
    """The smallest 1, 2, 2.5 or 5 × 10ⁿ that is ≥ `value` (> 0); a whole number if `integer`."""
    magnitude = Decimal(1).scaleb(value.adjusted())
    for multiple in NICE_STEPS:
        step = multiple * magnitude
        if step >= value and (not integer or step == step.to_integral_value()):
            return max(step, Decimal(1)) if integer else step
    return 10 * magnitude  # unreachable: NICE_STEPS ends with 10


def nice_scale(*, low: Decimal, high: Decimal, integer: bool, top: float, bottom: float) -> Scale:
    """An axis that contains 0, `low` and `high`, in INTERVALS round steps (whole steps if `integer`)."""
    low, high = min(Decimal(low), Decimal(0)), max(Decimal(high), Decimal(0))
    if high == low:
        high = low + 1
    step = _nice_at_least((high - low) / INTERVALS, integer=integer)
    while True:
        start = (low / step).to_integral_value(rounding=ROUND_FLOOR) * step
        if start + step * INTERVALS >= high:
            return Scale(low=start, step=step, top=top, bottom=bottom)
        step = _nice_at_least(step * Decimal("1.001"), integer=integer)


def tick_text(value: Decimal) -> str:
    """`25,000`, `2.5`, `0`: short, for axis labels."""
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return format(value.normalize(), "f")


def _attrs(**attributes: object) -> str:
    return " ".join(f'{name.rstrip("_").replace("_", "-")}="{escape(value)}"' for name, value in attributes.items())


def _el(tag: str, content: str = "", **attributes: object) -> str:
    opening = f"<{tag} {_attrs(**attributes)}" if attributes else f"<{tag}"
    return f"{opening}>{content}</{tag}>" if content else f"{opening}/>"


def _legend(*, bar_name: str, line_title: str, centre: float) -> str:
    """A bar swatch and a line sample with their names, centred on `centre`.

    Text widths are estimated (about 7 px a character at 11 px): the server has no font metrics.
    """
    bar_part = 17 + len(bar_name) * 7 + 16
    x0 = round(centre - (bar_part + 26 + len(line_title) * 7) / 2)
    x1 = x0 + bar_part
    legend = [
        _el("rect", class_="smm-chart-bar", x=x0, y=6, width=12, height=12),
        _el("text", escape(bar_name), x=x0 + 17, y=16),
        _el("line", class_="smm-chart-line", x1=x1, x2=x1 + 20, y1=12, y2=12),
        _el("circle", class_="smm-chart-point", cx=x1 + 10, cy=12, r=3),
        _el("text", escape(line_title), x=x1 + 26, y=16),
    ]
    return _el("g", "".join(legend), class_="smm-chart-legend")


def bar_line_chart(
    *,
    title: str,
    labels: Sequence[str],
    tick_labels: Sequence[str],
    bars: Sequence[int],
    line: Sequence[Decimal],
    bar_name: str,
    line_name: str,
    format_line: Callable[[Decimal], str] = str,
    line_axis_title: str = "",
    width: int = 760,
    height: int = 260,
) -> SafeString:
    """Bars on the left axis and a line on the right one, one slot per label, as an SVG string.

    `labels` name each slot in full (tooltips); `tick_labels` are the short texts under the
    x axis ("" for a slot without one). Each slot's bar, its column and its line point carry a
    `<title>` tooltip with both values; the whole chart has `role="img"` and an `aria-label`
    that sums it up.
    """
    count = len(labels)
    if not (count == len(tick_labels) == len(bars) == len(line)) or count == 0:
        raise ValueError("labels, tick_labels, bars and line must be non-empty and of the same length")
    line = [Decimal(value) for value in line]
    line_title = line_axis_title or line_name
    left, right, top, bottom = 52, 72, 40, 34
    plot_bottom = float(height - bottom)
    bar_scale = nice_scale(low=Decimal(0), high=Decimal(max(bars)), integer=True, top=top, bottom=plot_bottom)
    line_scale = nice_scale(low=min(line), high=max(line), integer=False, top=top, bottom=plot_bottom)
    slot = (width - left - right) / count
    bar_width = max(slot * 0.68, 1.0)

    total_bars, total_line = sum(bars), sum(line, Decimal(0))
    peak = max(range(count), key=lambda n: bars[n])
    summary = (
        f"{title}. {bar_name}: {total_bars} in all"
        + (f", most on {labels[peak]} ({bars[peak]})" if total_bars else "")
        + f". {line_name}: {format_line(total_line)} in all."
    )

    parts = [_el("title", escape(title)), _el("desc", escape(summary)), _el("style", STYLE)]

    # Gridlines and the two value axes' labels.
    for bar_tick, line_tick in zip(bar_scale.ticks, line_scale.ticks):
        y = bar_scale.y(bar_tick)
        parts.append(_el("line", class_="smm-chart-grid", x1=left, x2=width - right, y1=f"{y:.1f}", y2=f"{y:.1f}"))
        parts.append(_el("text", escape(tick_text(bar_tick)), x=left - 6, y=f"{y + 4:.1f}", text_anchor="end"))
        parts.append(_el("text", escape(tick_text(line_tick)), x=width - right + 6, y=f"{y + 4:.1f}"))
    parts.append(_el("line", class_="smm-chart-axis", x1=left, x2=width - right, y1=plot_bottom, y2=plot_bottom))
    parts.append(_el("text", escape(bar_name), x=left - 6, y=top - 12, text_anchor="end"))
    parts.append(_el("text", escape(line_title), x=width - 2, y=top - 12, text_anchor="end"))

    # One group per slot: a full-height hover column, the bar, the day tick.
    points = []
    for n in range(count):
        x = left + slot * n
        centre = x + slot / 2
        tooltip = f"{labels[n]} — {bar_name}: {bars[n]}; {line_name}: {format_line(line[n])}"
        bar_top = bar_scale.y(bars[n])
        group = [
            _el("title", escape(tooltip)),
            _el(
                "rect", class_="smm-chart-hit", x=f"{x:.1f}", y=top,
                width=f"{slot:.1f}", height=f"{plot_bottom - top:.1f}",
            ),
            _el(
                "rect", class_="smm-chart-bar", x=f"{centre - bar_width / 2:.1f}", y=f"{bar_top:.1f}",
                width=f"{bar_width:.1f}", height=f"{plot_bottom - bar_top:.1f}",
            ),
        ]
        if tick_labels[n]:
            group += [
                _el("line", class_="smm-chart-axis", x1=f"{centre:.1f}", x2=f"{centre:.1f}", y1=plot_bottom, y2=plot_bottom + 4),
                _el("text", escape(tick_labels[n]), x=f"{centre:.1f}", y=plot_bottom + 16, text_anchor="middle"),
            ]
        parts.append(_el("g", "".join(group), class_="smm-chart-day"))
        points.append((centre, line_scale.y(line[n]), tooltip))

    # The line above the bars, its points above the line (each with its own tooltip).
    polyline = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
    parts.append(_el("polyline", class_="smm-chart-line", points=polyline))
    for x, y, tooltip in points:
        title_el = _el("title", escape(tooltip))
        parts.append(_el("circle", title_el, class_="smm-chart-point", cx=f"{x:.1f}", cy=f"{y:.1f}", r=3))

    parts.append(_legend(bar_name=bar_name, line_title=line_title, centre=left + (width - left - right) / 2))

    svg = _el(
        "svg",
        "".join(parts),
        xmlns="http://www.w3.org/2000/svg",
        class_="smm-chart",
        viewBox=f"0 0 {width} {height}",
        width=width,
        height=height,
        role="img",
        aria_label=summary,
    )
    return mark_safe(svg)  # noqa: S308 - built above from escaped text and numbers only
