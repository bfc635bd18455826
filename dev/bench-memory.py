#!/usr/bin/env python3
"""Latency and cost per Lambda memory size: the function beside rust-ref (and Node and Python at
two sizes), under the CPU share of each size, at two CFS quota periods; then Managed Instances
throughput under the CPU share of 2 vCPUs. Run through `./dev/bench --memory` (docs/performance.md,
"Which memory size").

    dev/bench-memory.py --bench-dir DIR --product BINARY [--warm 2000] [--quick]
    dev/bench-memory.py --render .local/bench-memory/latest.json     # table, chart, summary again

Each (period, size) pass is one `run.py --mode fake` of the instrument in DIR, with every
function of that pass interleaved, so the ratios at a size come from one pass. The instrument's
per-invoke latencies are recorded (its `invoke` is wrapped in a child process) so that the cost can
be computed as Lambda bills: every invoke's duration rounded up to the next millisecond. The
recorded samples are checked against the instrument's own percentiles before they are used.

Writes the whole run to OUT_DIR/latest.json and OUT_DIR/<UTC stamp>.json, the markdown tables to
stdout, the chart to docs/performance-memory.svg and the figures the template's default is chosen
from to docs/memory-sizes.json.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = (128, 256, 512, 1024, 1769)
PEER_SIZES = (128, 1024)
PERIODS_US = (20000, 100000)
FUNCTIONS = ("product", "rust-ref", "node", "python")
# Written down with the figures they priced: us-east-1, arm64, on-demand, first tier, no free tier.
PRICES = {
    "region": "us-east-1",
    "architecture": "arm64",
    "usd_per_gb_second": 0.0000133334,
    "usd_per_million_requests": 0.20,
    "gb_per_mb": 1 / 1024,
    "as_of": "2026-06-18",
    "source": "AWS Lambda pricing page (first 7.5 billion GB-s a month; duration rounded up to 1 ms)",
}
# The written rule (docs/performance.md#which-memory-size): the cheapest measured size whose
# warm p99 is within this factor of the best p99 over the sizes, at every quota period measured.
P99_WITHIN = 2.0


# ---------------------------------------------------------------------------- pure parts

def billed_ms(samples_ms: list[float]) -> float:
    """Mean billed duration: each invoke rounded up to the next whole millisecond, as Lambda bills."""
    return sum(max(1, math.ceil(ms)) for ms in samples_ms) / len(samples_ms)


def cost_per_million(mean_billed_ms: float, memory_mb: int, prices: dict = PRICES) -> float:
    """USD per million requests: duration (GB-s at the memory's size) plus the request charge."""
    gb_s = mean_billed_ms / 1000 * memory_mb * prices["gb_per_mb"]
    return 1e6 * gb_s * prices["usd_per_gb_second"] + prices["usd_per_million_requests"]


def pct(xs: list[float], p: float) -> float:
    """The instrument's percentile (linear between closest ranks), so recorded samples can be checked."""
    s = sorted(xs)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def steady_samples(calls: list[float], n_warm: int, block: int, warmup: int = 50) -> list[float]:
    """The steady-state invokes of one function's warm phase, from every invoke it got in order:
    `warmup` discarded, then rounds of 1 after-idle invoke + `block` back-to-back ones."""
    rounds = -(-n_warm // block)
    if len(calls) != warmup + rounds * (block + 1):
        raise ValueError(f"{len(calls)} invokes recorded, the warm phase makes {warmup + rounds * (block + 1)}")
    body = calls[warmup:]
    return [ms for i, ms in enumerate(body) if i % (block + 1) != 0]


def choose_size(rows: dict, within: float = P99_WITHIN) -> dict:
    """The rule: per period, the sizes whose p99 is within `within` x the best p99; the choice is the
    cheapest size that qualifies at every period (ties: the smaller size).
    `rows` = {period: {size: {"p99_ms": .., "usd_per_million": ..}}} for one function."""
    qualifying = {}
    for period, by_size in rows.items():
        best = min(r["p99_ms"] for r in by_size.values())
        qualifying[period] = {s for s, r in by_size.items() if r["p99_ms"] <= within * best}
    common = set.intersection(*qualifying.values()) if qualifying else set()
    if not common:
        raise ValueError("no size qualifies at every period")

    def cost(size):  # the worst cost over the periods
        return max(rows[p][size]["usd_per_million"] for p in rows)

    chosen = min(common, key=lambda s: (round(cost(s), 6), s))
    return {"memory_mb": chosen, "rule": f"the cheapest size whose warm p99 is within {within:g}× of the best p99, "
            "at every quota period measured", "qualifying": {str(p): sorted(q) for p, q in qualifying.items()},
            "usd_per_million": cost(chosen)}


def summarise(run: dict) -> dict:
    """Per period, size and function: the warm percentiles, CPU and cost; ratios to rust-ref."""
    out = {}
    for key, r in run["passes"].items():
        period, size = (int(x) for x in key.split(":"))
        for f, w in r["functions"].items():
            row = {k: w[k] for k in ("p50_ms", "p90_ms", "p99_ms", "cpu_us_per_invoke", "after_idle_p50_ms",
                                     "billed_ms", "usd_per_million")}
            out.setdefault(str(period), {}).setdefault(str(size), {})[f] = row
        ref = out[str(period)][str(size)].get("rust-ref")
        for f, row in out[str(period)][str(size)].items():
            if ref and f != "rust-ref":
                row["vs_rust_ref"] = {k: row[k] / ref[k] for k in ("p50_ms", "p90_ms", "p99_ms", "cpu_us_per_invoke")}
    return out


# ---------------------------------------------------------------------------- report

def fmt(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def markdown(run: dict) -> str:
    s = summarise(run)
    meta = run["meta"]
    lines = [f"## Latency and cost per memory size (fake DynamoDB answering after {meta['ddb_latency_us']} µs)\n",
             f"{meta['warm']} steady-state warm invokes per function and size, back to back (a busy execution "
             f"environment); after-idle = the first invoke after the process sat idle. Cost: every invoke's "
             f"duration rounded up to 1 ms × {PRICES['architecture']} ${PRICES['usd_per_gb_second']:.10f}/GB-s + "
             f"${PRICES['usd_per_million_requests']:.2f} per million requests ({PRICES['region']}, prices as of "
             f"{PRICES['as_of']}). Load average {fmt(meta['loadavg_start'][0], 2)} at the start, "
             f"{fmt(meta['loadavg_end'][0], 2)} at the end.\n"]
    for period, by_size in s.items():
        lines.append(f"\n### CFS quota period {int(period) // 1000} ms\n")
        lines.append("| MB | function | p50 ms | p90 ms | p99 ms | after-idle p50 ms | CPU µs / invoke | billed ms "
                     "| $ per million | p90 / p99 vs rust-ref |")
        lines.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for size, fns in sorted(by_size.items(), key=lambda kv: int(kv[0])):
            for f in (x for x in FUNCTIONS if x in fns):
                r = fns[f]
                vs = r.get("vs_rust_ref")
                name = f"**{f}**" if f == "product" else f
                ratios = f"{vs['p90_ms']:.2f}× / {vs['p99_ms']:.2f}×" if vs else ""
                lines.append(f"| {size} | {name} | {fmt(r['p50_ms'], 2)} | {fmt(r['p90_ms'], 2)} | {fmt(r['p99_ms'], 2)} "
                             f"| {fmt(r['after_idle_p50_ms'], 2)} | {fmt(r['cpu_us_per_invoke'], 0)} "
                             f"| {fmt(r['billed_ms'], 2)} | {r['usd_per_million']:.4f} | {ratios} |")
        loads = ", ".join(f"{size} MB {run['passes'][f'{period}:{size}']['loadavg_start'][0]:.1f}→"
                          f"{run['passes'][f'{period}:{size}']['loadavg_end'][0]:.1f}"
                          for size in sorted(by_size, key=int))
        lines.append(f"\nLoad average (1 min) at the start → end of each pass: {loads}.")
    choice = run.get("choice")
    if choice:
        where = "; ".join(f"{int(p) // 1000} ms period: {', '.join(map(str, q))} MB"
                          for p, q in sorted(choice["qualifying"].items(), key=lambda kv: int(kv[0])))
        lines.append(f"\nRule ({choice['rule']}): the product qualifies at {where} → "
                     f"**{choice['memory_mb']} MB** (${choice['usd_per_million']:.4f} per million).")
    tp = run.get("throughput")
    if tp:
        lines.append(f"\n### Managed Instances: one process, C concurrent invocations, CPU share of "
                     f"{tp['lambda_memory_mb']} MB ({tp['lambda_memory_mb'] / 1769:.1f} vCPU, "
                     f"{tp['cpu_period_us'] // 1000} ms period), function pinned to {tp['function_cpus']}\n")
        lines.append("| function | C | invokes/s | share of the floor's invokes/s | in-function p50 ms "
                     "| CPU µs / invoke | peak RSS MB | errors |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for f, rows in tp["functions"].items():
            for c, r in rows.items():
                if "failed" in r:
                    lines.append(f"| {f} | {c} | failed: {r['failed'][:60]} | | | | | |")
                    continue
                floor = tp["functions"].get("floor", {}).get(c, {}).get("invokes_per_s")
                share = f"{r['invokes_per_s'] / floor:.2f}" if floor and f != "floor" else ""
                label = "floor (emulator's ceiling)" if f == "floor" else f
                lines.append(f"| {label} | {c} | {r['invokes_per_s']:,.0f} | {share} | {fmt(r['service_p50_ms'], 2)} "
                             f"| {fmt(r['cpu_us_per_invoke'], 0)} | {r['peak_rss_kb'] / 1024:.1f} | {r['errors']} |")
        lines.append(f"\nLoad average {fmt(tp['loadavg_start'][0], 2)} at the start, {fmt(tp['loadavg_end'][0], 2)} "
                     "at the end.")
    return "\n".join(lines)


COLOURS = {"product": "#d62728", "rust-ref": "#1f77b4", "node": "#2ca02c", "python": "#9467bd"}


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def svg_chart(run: dict) -> str:
    """Warm p50, p90, p99 (log scale) and cost per million against memory size (log scale), per
    function, one row of panels per quota period. Plain SVG: no timestamps, stable for diffs."""
    s = summarise(run)
    periods = sorted(s, key=int)
    panels = [("p50_ms", "warm p50, ms"), ("p90_ms", "warm p90, ms"), ("p99_ms", "warm p99, ms"),
              ("usd_per_million", "$ / million requests")]
    pw, ph, ml, mr, mt, mb = 240, 190, 46, 14, 30, 38
    width = len(panels) * (pw + ml + mr) + 10
    height = len(periods) * (ph + mt + mb) + 70
    sizes = sorted({int(x) for p in s.values() for x in p})
    lat = [r[k] for p in s.values() for fns in p.values() for r in fns.values()
           for k in ("p50_ms", "p90_ms", "p99_ms")]
    costs = [r["usd_per_million"] for p in s.values() for fns in p.values() for r in fns.values()]
    steps = [m * 10 ** e for e in range(-2, 5) for m in (1, 2, 5)]
    lat_lo = max(t for t in steps if t <= min(lat))
    lat_hi = min(t for t in steps if t >= max(lat))
    cost_lo, cost_hi = 0.2, max(costs) * 1.05
    x_lo, x_hi = math.log(min(sizes)) - 0.15, math.log(max(sizes)) + 0.15
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="18" font-size="14" font-weight="bold">{_esc(run_title(run))}</text>']
    for row, period in enumerate(periods):
        oy = 40 + row * (ph + mt + mb)
        for col, (key, label) in enumerate(panels):
            ox = 10 + col * (pw + ml + mr) + ml
            is_cost = key == "usd_per_million"

            def X(mb_):
                return ox + (math.log(mb_) - x_lo) / (x_hi - x_lo) * pw

            def Y(v):
                if is_cost:
                    return oy + mt + ph - (v - cost_lo) / (cost_hi - cost_lo) * ph
                return oy + mt + ph - (math.log10(v) - math.log10(lat_lo)) / (
                    math.log10(lat_hi) - math.log10(lat_lo)) * ph

            out.append(f'<text x="{ox}" y="{oy + mt - 8}" font-weight="bold">{_esc(label)} '
                       f'<tspan font-weight="normal">({int(period) // 1000} ms quota period)</tspan></text>')
            out.append(f'<rect x="{ox}" y="{oy + mt}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
            if is_cost:
                step = _nice_step((cost_hi - cost_lo) / 5)
                ticks = [cost_lo + i * step for i in range(int((cost_hi - cost_lo) / step) + 1)]
                tick_txt = [f"{t:.2f}" for t in ticks]
            else:
                ticks = [t for t in steps if lat_lo <= t <= lat_hi]
                tick_txt = [f"{t:g}" for t in ticks]
            for t, txt in zip(ticks, tick_txt):
                y = Y(t)
                out.append(f'<line x1="{ox}" y1="{y:.1f}" x2="{ox + pw}" y2="{y:.1f}" stroke="#e4e4e4"/>')
                out.append(f'<text x="{ox - 4}" y="{y + 4:.1f}" text-anchor="end">{txt}</text>')
            for mb_ in sizes:
                x = X(mb_)
                out.append(f'<line x1="{x:.1f}" y1="{oy + mt}" x2="{x:.1f}" y2="{oy + mt + ph}" stroke="#f0f0f0"/>')
                out.append(f'<text x="{x:.1f}" y="{oy + mt + ph + 14}" text-anchor="middle">{mb_}</text>')
            out.append(f'<text x="{ox + pw / 2}" y="{oy + mt + ph + 28}" text-anchor="middle">memory (MB)</text>')
            for f in FUNCTIONS:
                pts = [(int(sz), fns[f][key]) for sz, fns in s[period].items() if f in fns]
                pts.sort()
                if not pts:
                    continue
                c = COLOURS[f]
                path = " ".join(f"{X(a):.1f},{Y(b):.1f}" for a, b in pts)
                wdt = 2.5 if f == "product" else 1.5
                out.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="{wdt}"/>')
                for a, b in pts:
                    out.append(f'<circle cx="{X(a):.1f}" cy="{Y(b):.1f}" r="3" fill="{c}"/>')
            if key == "p99_ms" and "product" in next(iter(s[period].values())):
                # the rule's bar: sizes whose product p99 is under this line qualify at this period
                bar = P99_WITHIN * min(fns["product"]["p99_ms"] for fns in s[period].values() if "product" in fns)
                y = Y(bar)
                out.append(f'<line x1="{ox}" y1="{y:.1f}" x2="{ox + pw}" y2="{y:.1f}" stroke="#d62728" '
                           f'stroke-dasharray="4 3"/>')
                out.append(f'<text x="{ox + pw - 3}" y="{y - 4:.1f}" fill="#d62728" text-anchor="end">'
                           f'{P99_WITHIN:g}× the product\'s best p99</text>')
            choice = run.get("choice")
            if choice and is_cost:
                x = X(choice["memory_mb"])
                out.append(f'<line x1="{x:.1f}" y1="{oy + mt}" x2="{x:.1f}" y2="{oy + mt + ph}" '
                           f'stroke="#d62728" stroke-dasharray="4 3"/>')
                out.append(f'<text x="{x - 3:.1f}" y="{oy + mt + 12}" fill="#d62728" text-anchor="end">'
                           f'template default</text>')
    ly = height - 18
    for i, f in enumerate(FUNCTIONS):
        x = 10 + ml + i * 120
        out.append(f'<line x1="{x}" y1="{ly}" x2="{x + 24}" y2="{ly}" stroke="{COLOURS[f]}" stroke-width="2.5"/>')
        out.append(f'<text x="{x + 30}" y="{ly + 4}">{f}</text>')
    out.append(f'<text x="{10 + ml + 4 * 120}" y="{ly + 4}" fill="#555">node and python: 128 and 1,024 MB only; '
               f'back-to-back warm invokes</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def run_title(run: dict) -> str:
    m = run["meta"]
    return (f"Warm latency and cost per Lambda memory size (CPU share as a CFS quota; DynamoDB read "
            f"{m['ddb_latency_us'] / 1000:g} ms; load {m['loadavg_start'][0]:.1f})")


def _nice_step(raw: float) -> float:
    e = 10 ** math.floor(math.log10(raw))
    return next(m * e for m in (1, 2, 2.5, 5, 10) if m * e >= raw)


def summary_file(run: dict) -> dict:
    """What the template's default is chosen from, committed beside the docs (dev/check-template.py reads it)."""
    return {"what": "warm figures per memory size, one ./dev/bench --memory run (docs/performance.md#which-memory-size)",
            "started": run["meta"]["started"], "loadavg_start": run["meta"]["loadavg_start"],
            "loadavg_end": run["meta"]["loadavg_end"], "ddb_latency_us": run["meta"]["ddb_latency_us"],
            "warm": run["meta"]["warm"], "prices": PRICES, "sizes_mb": list(run["meta"]["sizes"]),
            "choice": run["choice"], "figures": summarise(run)}


# ---------------------------------------------------------------------------- measuring

def measure_one(bench_dir: str, samples_out: str, argv: list[str]) -> int:
    """Child mode: the instrument's run.py with its invoke wrapped, so every invoke's latency is kept."""
    sys.path.insert(0, bench_dir)
    import lambda_emu  # noqa: PLC0415 - the instrument is outside the repository
    import run as bench_run  # noqa: PLC0415
    calls: dict[str, list[float]] = {}
    plain = lambda_emu.LambdaProcess.invoke

    def recording(self, event, request_id=None):
        resp, ms = plain(self, event, request_id)
        calls.setdefault(self.name, []).append(ms)
        return resp, ms
    lambda_emu.LambdaProcess.invoke = recording
    sys.argv = ["run.py", *argv]
    rc = bench_run.main()
    with open(samples_out, "w") as f:
        json.dump(calls, f)
    return rc or 0


def run_pass(a, period: int, size: int, fns: list[str], out_dir: Path) -> dict:
    tag = f"p{period}-m{size}"
    res, samples = out_dir / "passes" / f"{tag}.json", out_dir / "passes" / f"{tag}.samples.json"
    res.parent.mkdir(parents=True, exist_ok=True)
    argv = ["--mode", "fake", "--no-verify", "--cold", str(a.cold), "--warm", str(a.warm), "--block", str(a.block),
            "--lambda-memory", str(size), "--cpu-period-us", str(period), "--ddb-latency-us", str(a.ddb_latency_us),
            "--fn", f"product={a.product}", "--only", ",".join(fns), "--out", str(res)]
    print(f"==> {size} MB, {period // 1000} ms period: {', '.join(fns)}", flush=True)
    subprocess.run([sys.executable, __file__, "--measure-one", a.bench_dir, str(samples), "--", *argv],
                   check=True, stdout=subprocess.DEVNULL if not a.verbose else None)
    r = json.loads(res.read_text())
    calls = json.loads(samples.read_text())
    warm = r["modes"]["fake"]["warm"]
    out = {"loadavg_start": r["meta"]["loadavg_start"], "loadavg_end": r["meta"]["loadavg_end"], "functions": {}}
    for f in fns:
        w = warm[f]
        lat = steady_samples(calls[f"jobs-status-{f}"], a.warm, a.block, w["warmup"])
        for k, p in (("p50_ms", 50), ("p90_ms", 90), ("p99_ms", 99)):
            if abs(pct(lat, p) - w[k]) > 1e-9:
                raise SystemExit(f"{f} {size} MB: recorded samples give {k} {pct(lat, p)}, the instrument {w[k]}")
        b = billed_ms(lat)
        out["functions"][f] = {**{k: w[k] for k in ("n", "errors", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "max_ms",
                                                   "after_idle_p50_ms", "after_idle_p90_ms", "cpu_us_per_invoke",
                                                   "peak_rss_kb")},
                               "billed_ms": b, "usd_per_million": cost_per_million(b, size)}
        if w["errors"]:
            print(f"   !! {f}: {w['errors']} wrong statuses", flush=True)
    return out


def run_throughput(a, out_dir: Path) -> dict:
    res = out_dir / "passes" / "throughput.json"
    argv = ["--throughput", "--conc", a.tp_conc, "--tp-n", str(a.tp_n), "--lambda-memory", str(a.tp_memory),
            "--cpu-period-us", str(PERIODS_US[0]), "--ddb-latency-us", str(a.ddb_latency_us),
            "--fn", f"product={a.product}", "--only", "rust-ref,product", "--out", str(res)]
    print(f"==> throughput, C in {a.tp_conc}, CPU share of {a.tp_memory} MB", flush=True)
    subprocess.run([sys.executable, os.path.join(a.bench_dir, "run.py"), *argv], check=True,
                   stdout=subprocess.DEVNULL if not a.verbose else None)
    r = json.loads(res.read_text())
    tp = r["throughput"]
    return {"lambda_memory_mb": a.tp_memory, "cpu_period_us": PERIODS_US[0], "n": tp["n"],
            "function_cpus": tp["function_cpus"], "loadavg_start": r["meta"]["loadavg_start"],
            "loadavg_end": r["meta"]["loadavg_end"], "functions": tp["modes"]["fake"]["functions"]}


def finish(run: dict, out_dir: Path | None, chart: Path, summary: Path) -> None:
    run["choice"] = choose_size({p: {int(sz): fns["product"] for sz, fns in by.items()}
                                 for p, by in summarise(run).items()})
    md = markdown(run)
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
        body = json.dumps(run, indent=1)
        (out_dir / "latest.json").write_text(body)
        stamp = run["meta"]["started"].replace("-", "").replace(":", "")
        (out_dir / f"{stamp}.json").write_text(body)
    chart.write_text(svg_chart(run))
    summary.write_text(json.dumps(summary_file(run), indent=1) + "\n")
    print(md)
    print(f"\nchart: {chart}; summary: {summary}"
          + (f"; whole run: {out_dir / 'latest.json'}" if out_dir else ""))


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--measure-one":
        bench_dir, samples_out, sep, *argv = sys.argv[2:]
        assert sep == "--"
        return measure_one(bench_dir, samples_out, argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench-dir", help="a set-up copy of the instrument (dev/bench passes it)")
    ap.add_argument("--product", help="the function's built binary")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--periods-us", default=",".join(map(str, PERIODS_US)))
    ap.add_argument("--ddb-latency-us", type=int, default=3000, help="fake DynamoDB's delay per GetItem (default 3000)")
    ap.add_argument("--warm", type=int, default=2000, help="steady-state warm invokes per function and size")
    ap.add_argument("--block", type=int, default=50)
    ap.add_argument("--cold", type=int, default=3, help="cold starts per function and size (not reported here)")
    ap.add_argument("--tp-conc", default="8,32")
    ap.add_argument("--tp-n", type=int, default=3000)
    ap.add_argument("--tp-memory", type=int, default=3538, help="Managed Instances: CPU share of this many MB")
    ap.add_argument("--no-throughput", action="store_true")
    ap.add_argument("--quick", action="store_true", help="400 warm invokes, 1,000 per throughput row")
    ap.add_argument("--out-dir", default=str(ROOT / ".local" / "bench-memory"))
    ap.add_argument("--chart", default=str(ROOT / "docs" / "performance-memory.svg"))
    ap.add_argument("--summary", default=str(ROOT / "docs" / "memory-sizes.json"))
    ap.add_argument("--render", metavar="RUN.json", help="only rebuild the table, chart and summary from a saved run")
    ap.add_argument("--verbose", action="store_true", help="show the instrument's own output")
    a = ap.parse_args()
    chart, summary = Path(a.chart).resolve(), Path(a.summary).resolve()
    if a.render:
        finish(json.loads(Path(a.render).read_text()), None, chart, summary)
        return 0
    if not a.bench_dir or not a.product:
        ap.error("--bench-dir and --product are needed to measure")
    if a.quick:
        a.warm, a.tp_n = 400, 1000
    sizes = [int(x) for x in a.sizes.split(",")]
    periods = [int(x) for x in a.periods_us.split(",")]
    out_dir = Path(a.out_dir)
    t0 = time.time()
    run = {"meta": {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)), "loadavg_start": os.getloadavg(),
                    "sizes": sizes, "periods_us": periods, "peer_sizes": list(PEER_SIZES),
                    "ddb_latency_us": a.ddb_latency_us, "warm": a.warm, "block": a.block, "prices": PRICES,
                    "product": a.product},
           "passes": {}}
    for period in periods:
        for size in sizes:
            fns = ["rust-ref", "product"] + (["node", "python"] if size in PEER_SIZES else [])
            run["passes"][f"{period}:{size}"] = run_pass(a, period, size, fns, out_dir)
    if not a.no_throughput:
        run["throughput"] = run_throughput(a, out_dir)
    run["meta"]["loadavg_end"] = os.getloadavg()
    run["meta"]["seconds"] = time.time() - t0
    finish(run, out_dir, chart, summary)
    print(f"whole run {run['meta']['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
