#!/usr/bin/env python3
"""ptalloc benchmark harness (run through bench/run.sh, which builds first).

Runs every workload on every allocator, interleaved: for each repetition,
for each workload, every allocator once (the allocator order rotates per
repetition), so slow drifts of the machine hit all allocators alike.
Each run goes through build/bench/runner, which sets LD_PRELOAD in the
measured child only and reports wall time and ru_maxrss.  The peak RSS
comes from separate runs (BENCH_PEAK_RUNS, default 16) with `runner -pK`,
which measures it exactly, in each of the 16 address layout phases (their
mean is the expected peak over random layouts).  Time medians are
written to results/latest.md, a chart to results/latest.svg and every raw
run to results/latest.csv.  See bench/README.md.

The work is split by job: runs.py runs the workloads, stats.py summarises
the runs, report.py writes latest.md and latest.csv, chart.py latest.svg;
common.py has what they share.
`--render-only CSV` renders latest.md and latest.svg again from a
latest.csv without running anything (the CSV has no instruction or
fast-path counts, so those sections say not measured).
"""
import argparse
import os
import sys
import tempfile
import time
import types

from chart import render_svg
from common import LAYOUT_PHASES, log
from report import render_md, write_csv
from runs import csv_info, load_runs, loadavg, machine_info, measure
from stats import summarize


def env_flag(name):
    return os.environ.get(name, "") not in ("", "0", "no", "false")


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--bin", help="the built workloads (required unless --render-only)")
    ap.add_argument("--render-only", metavar="CSV",
                    help="render latest.md and latest.svg from this latest.csv, running nothing")
    args = ap.parse_args()
    if not args.bin and not args.render_only:
        ap.error("the following arguments are required: --bin")
    return args


def read_config(args):
    """The run's settings, from the command line and the BENCH_* variables
    (bench/run.sh and bench/README.md list them)."""
    quick = env_flag("BENCH_QUICK")
    repo = os.path.abspath(args.repo)
    return types.SimpleNamespace(
        repo=repo,
        bin_dir=os.path.abspath(args.bin) if args.bin else None,
        quick=quick,
        runs=int(os.environ.get("BENCH_RUNS", "1" if quick else "9")),
        peak_runs=int(os.environ.get("BENCH_PEAK_RUNS", "1" if quick else str(LAYOUT_PHASES))),
        scale=float(os.environ.get("BENCH_SCALE", "0.02" if quick else "1")),
        timeout=int(os.environ.get("BENCH_TIMEOUT", "30" if quick else "300")),
        out_dir=os.environ.get("BENCH_OUT") or os.path.join(repo, "bench", "results"),
        do_fast=os.environ.get("BENCH_FASTPATH", "1") not in ("0", "no", "false"),
        do_instr=os.environ.get("BENCH_INSTR", "0" if quick else "1") not in ("0", "no", "false"),
        instr_scale=float(os.environ.get("BENCH_INSTR_SCALE", "0.05")),
    )


def run_all(cfg):
    """Runs everything; returns the results, the machine's description and
    the harness's time."""
    t_start = time.time()
    load_start = loadavg()
    with tempfile.TemporaryDirectory(prefix="ptalloc-bench.") as tmp:
        res = measure(cfg, tmp)
    elapsed = time.time() - t_start
    info = machine_info()
    info["load"] = "%s at start, %s at end" % (load_start, loadavg())
    return res, info, elapsed


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)


def exit_status(res):
    """1 when a cell failed or an allocator was unusable, after saying which."""
    if res.broken:
        log("bench: unusable allocator(s): %s (see latest.md)" % ", ".join(res.broken))
    if res.dead:
        log("bench: %d cell(s) failed: %s" % (len(res.dead), ", ".join(
            "%s/%s (%s)" % (w, a, why) for (w, a), why in sorted(res.dead.items()))))
        return 1
    return 1 if res.broken else 0


def main():
    args = parse_args()
    cfg = read_config(args)
    os.makedirs(cfg.out_dir, exist_ok=True)
    if args.render_only and os.path.samefile(os.path.dirname(os.path.abspath(args.render_only)), cfg.out_dir):
        # the run's own latest.md has the counts the CSV lacks: keep it
        sys.exit("bench: --render-only would overwrite the latest.md beside %s; set BENCH_OUT"
                 % args.render_only)
    if args.render_only:
        res, cfg.runs, cfg.peak_runs = load_runs(args.render_only)
        info, elapsed = csv_info(args.render_only), 0
    else:
        res, info, elapsed = run_all(cfg)
    med = summarize(res)
    if not args.render_only:
        write_csv(os.path.join(cfg.out_dir, "latest.csv"), res.raw)
    write_file(os.path.join(cfg.out_dir, "latest.md"), render_md(res, med, cfg, info, elapsed))
    write_file(os.path.join(cfg.out_dir, "latest.svg"),
               render_svg(res.works, res.names, med, res.dead, info, cfg.runs, cfg.quick))
    log("bench: done in %.0f s; wrote %s/latest.{md,svg%s}"
        % (elapsed, os.path.relpath(cfg.out_dir, cfg.repo), "" if args.render_only else ",csv"))
    return exit_status(res)


if __name__ == "__main__":
    sys.exit(main())
