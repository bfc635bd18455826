#!/usr/bin/env python3
"""User-space instructions and allocations per warm invoke, counted by callgrind: the measure
that does not move with the machine's load (docs/performance.md, "Small requests won back").
Run through `./dev/bench --callgrind NAME=BINARY ...` (unstripped builds: callgrind needs the
symbols to say where the instructions go).

    dev/bench-callgrind.py --bench-dir DIR [--invokes 400] [--out DIR] NAME=BINARY [NAME=BINARY ...]

Each binary runs under valgrind beside the instrument's fake DynamoDB, behind its Lambda Runtime
API emulator, and answers the instrument's warm mix (the same events for every binary): 100
invokes to warm up, then the counters are zeroed (`callgrind_control -z`), then `--invokes` more,
then dumped (`callgrind_control -d`). The dump holds exactly those invokes. Valgrind hides SHA-NI,
so SHA-256 (SigV4) runs in software here and is over-counted against a native run; the table
shows it apart.

Prints per binary: instructions per invoke, of them SHA-256, and malloc calls per invoke. The
dumps stay in OUT (default .local/callgrind) for `callgrind_annotate`.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WARM_UP = 100


def measure(bench_dir: Path, name: str, binary: str, invokes: int, out: Path) -> Path:
    """One binary's callgrind dump of `invokes` warm invokes."""
    sys.path.insert(0, str(bench_dir))
    import events  # noqa: E402  (the instrument's own modules, from its copy)
    import run
    import seed
    from lambda_emu import LambdaProcess

    jobs = seed.generate(3000)
    mix = events.warm_mix(jobs, WARM_UP + invokes)
    prefix = out / name
    for old in out.glob(f"{name}.*"):
        old.unlink()
    server = run.Server("fake", None)
    try:
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={prefix}.%p",
                   "--dump-instr=no", "--collect-jumps=no", binary]
        function = LambdaProcess(command, run.fn_env(), name=f"callgrind-{name}",
                                 ready_timeout_s=300, log_path=f"{prefix}.log").start()
        try:
            for _, event in mix[:WARM_UP]:
                function.invoke(event)
            pid = str(function.proc.pid)
            subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
            unexpected = 0
            for kind, event in mix[WARM_UP:]:
                response, _ = function.invoke(event)
                unexpected += response.get("statusCode") != run.EXPECT[kind]
            subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
            time.sleep(1)
        finally:
            function.close()
    finally:
        server.stop()
    if unexpected:
        raise SystemExit(f"{name}: {unexpected} answers with another status than the instrument expects")
    dumps = sorted(out.glob(f"{name}.*.1"))
    if not dumps:
        raise SystemExit(f"{name}: no callgrind dump in {out}")
    return dumps[-1]


def summary(dump: Path, invokes: int) -> dict:
    """Instructions, SHA-256's share and malloc calls per invoke, from the dump."""
    annotate = lambda *options: subprocess.run(
        ["callgrind_annotate", "--threshold=100", *options, str(dump)],
        capture_output=True, text=True, check=True).stdout
    return figures(annotate(), annotate("--tree=caller"), invokes)


def figures(flat: str, tree: str, invokes: int) -> dict:
    """Per invoke, from `callgrind_annotate`'s flat listing and its caller tree: every
    instruction, those of SHA-256's compression function, and the calls of malloc (the counts
    of its callers, the `<` lines of malloc's block in the tree)."""
    number = lambda text: int(text.replace(",", ""))
    total = number(re.search(r"([\d,]+) \([ \d.]+%\)\s+PROGRAM TOTALS", flat).group(1))
    sha = sum(number(m.group(1)) for m in
              re.finditer(r"^\s*([\d,]+) \([ \d.]+%\)\s+\S*sha256::compress256\b", flat, re.M))
    mallocs = 0
    for block in tree.split("\n\n"):
        lines = block.strip().splitlines()
        if any(re.search(r"\*\s+\S*:malloc \[", line) for line in lines):
            calls = (re.search(r"<\s.*\(([\d,]+)x\)", line) for line in lines)
            mallocs += sum(number(call.group(1)) for call in calls if call)
    return {"instructions": total / invokes, "sha256": sha / invokes, "mallocs": mallocs / invokes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench-dir", type=Path, required=True)
    parser.add_argument("--invokes", type=int, default=400)
    parser.add_argument("--out", type=Path, default=ROOT / ".local" / "callgrind")
    parser.add_argument("binaries", nargs="+", metavar="NAME=BINARY")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for spec in args.binaries:
        name, _, binary = spec.partition("=")
        if not binary or not os.access(binary, os.X_OK):
            raise SystemExit(f"{spec}: expected NAME=BINARY, an executable")
        dump = measure(args.bench_dir, name, os.path.abspath(binary), args.invokes, args.out)
        rows.append((name, summary(dump, args.invokes), dump))
    first = rows[0][1]["instructions"]
    print("| build | instructions / invoke | of them SHA-256 | malloc calls / invoke | vs first |")
    print("|---|---:|---:|---:|---:|")
    for name, figures, _ in rows:
        print(f"| {name} | {figures['instructions']:,.0f} | {figures['sha256']:,.0f} | "
              f"{figures['mallocs']:.0f} | {figures['instructions'] / first - 1:+.1%} |")
    for name, _, dump in rows:
        print(f"{name}: {dump}")


if __name__ == "__main__":
    main()
