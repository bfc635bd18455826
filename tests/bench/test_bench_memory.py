"""dev/bench-memory.py: the arithmetic behind the memory-size table (billing, cost, the rule that
picks the template's default), the chart it writes, and that the committed figures, the template
default and docs/performance.md agree with each other."""

import copy
import importlib.util
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("bench_memory", ROOT / "dev" / "bench-memory.py")
bm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bm)

SUMMARY = json.loads((ROOT / "docs" / "memory-sizes.json").read_text())


def test_every_invoke_is_billed_in_whole_milliseconds_rounded_up():
    assert bm.billed_ms([0.2, 1.0, 1.01, 3.5]) == (1 + 1 + 2 + 4) / 4


def test_cost_per_million_is_gb_seconds_at_the_arm64_price_plus_the_request_charge():
    # 10 ms at 128 MB = 0.00125 GB-s a request; a million of them at $0.0000133334 is $0.01666675
    assert bm.cost_per_million(10, 128) == pytest.approx(0.01666675 + 0.20, rel=1e-9)
    assert bm.cost_per_million(10, 1024) == pytest.approx(8 * 0.01666675 + 0.20, rel=1e-9)


def test_steady_samples_drop_the_warm_up_and_each_block_s_after_idle_invoke():
    calls = [100.0] * 50 + [9.0, 1, 2] + [8.0, 3, 4]  # warm-up, then 2 rounds of 1 idle + 2
    assert bm.steady_samples(calls, n_warm=4, block=2) == [1, 2, 3, 4]
    with pytest.raises(ValueError):  # a count that is not the warm phase's: refuse, do not guess
        bm.steady_samples(calls[:-1], n_warm=4, block=2)


def rows(p99_by_size, cost_by_size):
    return {s: {"p99_ms": p99_by_size[s], "usd_per_million": cost_by_size[s]} for s in p99_by_size}


def test_the_rule_picks_the_cheapest_size_within_2x_of_the_best_p99_at_every_period():
    cost = {128: 0.21, 256: 0.22, 512: 0.23, 1024: 0.26}
    one = rows({128: 25.0, 256: 12.0, 512: 7.0, 1024: 6.0}, cost)     # 256 (12 <= 2*6) qualifies
    other = rows({128: 40.0, 256: 16.0, 512: 8.0, 1024: 7.0}, cost)   # 256 does not (16 > 14)
    assert bm.choose_size({20000: one})["memory_mb"] == 256
    assert bm.choose_size({20000: one, 100000: other})["memory_mb"] == 512
    # equal cost: the smaller size
    assert bm.choose_size({1: rows({128: 5.0, 256: 5.0}, {128: 0.2, 256: 0.2})})["memory_mb"] == 128


def fake_run():
    fns = {"product": 1.0, "rust-ref": 1.5, "node": 4.0, "python": 3.0}
    passes = {}
    for period in (20000, 100000):
        for size in (128, 256, 512, 1024, 1769):
            scale = 1769 / size
            f = {}
            for name, k in fns.items():
                if name in ("node", "python") and size not in (128, 1024):
                    continue
                lat = [k * (3 + scale * x / 10) for x in (1, 2, 3)]
                f[name] = {"p50_ms": lat[0], "p90_ms": lat[1], "p99_ms": lat[2], "cpu_us_per_invoke": 300 * k,
                           "after_idle_p50_ms": lat[0], "billed_ms": lat[1],
                           "usd_per_million": bm.cost_per_million(lat[1], size)}
            passes[f"{period}:{size}"] = {"functions": f}
    return {"meta": {"ddb_latency_us": 3000, "loadavg_start": [1.0, 1.0, 1.0], "loadavg_end": [1.0, 1.0, 1.0],
                     "warm": 100, "started": "2026-01-01T00:00:00Z", "sizes": [128, 256, 512, 1024, 1769]},
            "passes": passes}


def test_the_chart_is_well_formed_svg_with_a_line_per_function_and_panel_and_the_same_bytes_each_time():
    run = fake_run()
    run["choice"] = {"memory_mb": 512}
    chart = bm.svg_chart(run)
    root = ET.fromstring(chart)
    lines = root.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(lines) == 2 * 4 * 4  # periods x panels x functions
    assert chart == bm.svg_chart(copy.deepcopy(run))
    assert "template default" in chart


def test_the_committed_choice_follows_the_rule_from_the_committed_figures():
    product = {p: {int(s): fns["product"] for s, fns in by.items()} for p, by in SUMMARY["figures"].items()}
    assert bm.choose_size(product)["memory_mb"] == SUMMARY["choice"]["memory_mb"]
    assert sorted(SUMMARY["sizes_mb"]) == [128, 256, 512, 1024, 1769]


def test_the_template_default_memory_size_is_the_committed_choice():
    class Loader(yaml.SafeLoader):
        pass
    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)  # CloudFormation tags
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=Loader)
    assert template["Parameters"]["MemorySize"]["Default"] == SUMMARY["choice"]["memory_mb"]


def test_the_docs_embed_the_chart_and_state_the_rule_the_script_applies():
    perf = (ROOT / "docs" / "performance.md").read_text()
    assert "](performance-memory.svg)" in perf
    assert (ROOT / "docs" / "performance-memory.svg").is_file()
    factor = f"{bm.P99_WITHIN:g}×"
    for doc in ("performance.md", "deploy.md"):
        text = (ROOT / "docs" / doc).read_text()
        assert re.search(rf"cheapest[\s\S]{{0,60}}p99[\s\S]{{0,40}}within {re.escape(factor)}", text), doc
