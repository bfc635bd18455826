#!/usr/bin/env python3
"""The soak's resident-set curve as an SVG chart (docs/failure-behaviour.md, "Soak").

    dev/soak-chart.py target/soak/soak-sequential.csv target/soak/soak-c32.csv > docs/soak-rss.svg

Each CSV is what tests/soak.rs writes: invocations, seconds, rss_kb, peak_rss_kb, fds,
runtime_api_connections, one row every tenth of the run. One line per file (RSS, solid) and its
peak (dashed); the x axis is invocations, the y axis MB.
"""
import csv
import sys
from pathlib import Path

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


def read(path):
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def chart(series):
    width, height, left, right, top, bottom = 760, 320, 60, 230, 30, 40
    xs = [row["invocations"] for _, rows in series for row in rows]
    ys = [row[key] / 1024 for _, rows in series for row in rows for key in ("rss_kb", "peak_rss_kb")]
    x_max = max(xs) or 1
    y_low, y_high = min(ys), max(ys)
    pad = max((y_high - y_low) * 0.2, 1.0)
    y_low, y_high = max(0.0, y_low - pad), y_high + pad

    def px(x):
        return left + (width - left - right) * x / x_max

    def py(y):
        return top + (height - top - bottom) * (1 - (y - y_low) / (y_high - y_low))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="18" font-size="13">Resident set of one process (MB) by invocations served</text>']
    for i in range(6):
        y = y_low + (y_high - y_low) * i / 5
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{y:.1f}</text>')
    for i in range(6):
        x = x_max * i / 5
        out.append(f'<text x="{px(x):.1f}" y="{height - bottom + 16}" text-anchor="middle">{x:,.0f}</text>')
    for n, (name, rows) in enumerate(series):
        colour = COLOURS[n % len(COLOURS)]
        for key, dash in (("rss_kb", ""), ("peak_rss_kb", ' stroke-dasharray="4 3"')):
            points = " ".join(f"{px(r['invocations']):.1f},{py(r[key] / 1024):.1f}" for r in rows)
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{points}"/>')
        y = top + 20 + 34 * n
        out.append(f'<line x1="{width - right + 10}" x2="{width - right + 30}" y1="{y}" y2="{y}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{width - right + 36}" y="{y + 4}">{name} RSS</text>')
        out.append(f'<line x1="{width - right + 10}" x2="{width - right + 30}" y1="{y + 14}" y2="{y + 14}" stroke="{colour}" stroke-width="2" stroke-dasharray="4 3"/>')
        out.append(f'<text x="{width - right + 36}" y="{y + 18}">{name} peak</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(paths):
    if not paths:
        sys.exit(__doc__)
    series = [(Path(p).stem.removeprefix("soak-"), read(p)) for p in paths]
    sys.stdout.write(chart(series))


if __name__ == "__main__":
    main(sys.argv[1:])
