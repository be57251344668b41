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
"""
import argparse
import csv
import datetime
import fnmatch
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ALLOC_ORDER = ["ptalloc", "glibc", "jemalloc", "tcmalloc", "mimalloc"]
LAYOUT_PHASES = 16         # runner -pK: K = 0..15
FLOOR = "empty preload"    # the peak tables' reference column (bench/empty.c)
ALLOC_SONAME = {
    "jemalloc": "libjemalloc.so.2",
    "tcmalloc": "libtcmalloc_minimal.so.4",
    "mimalloc": "libmimalloc.so.2",
}
ALLOC_PKG = {
    "glibc": "libc6",
    "jemalloc": "libjemalloc2",
    "tcmalloc": "libtcmalloc-minimal4",
    "mimalloc": "libmimalloc2.0",
}
COLORS = {
    "ptalloc": "#d62728",
    "glibc": "#555555",
    "jemalloc": "#1f77b4",
    "tcmalloc": "#2ca02c",
    "mimalloc": "#9467bd",
}

# name, description; argv is built in workloads()
WORKLOADS = [
    ("pairs", "malloc+free pairs in a hot loop, 16/64/256/1024/4096 B"),
    ("batch_small", "allocate 100k x 16-128 B, then free all; 40 rounds"),
    ("batch_medium", "allocate 10k x 1-8 KiB, then free all; 200 rounds"),
    ("batch_nearmmap", "allocate 500 x 100-127 KiB (touched), then free all; 24 rounds"),
    ("churn", "8M random frees+mallocs over a 50k-slot live set, 8-4096 B, long tail"),
    ("realloc_grow", "1000 buffers grown round-robin: doubling to 64 KiB / +8..96 B to 8 KiB"),
    ("prodcons", "2 producer->consumer thread pairs, SPSC rings, 4M remote frees each"),
    ("prodcons_pinned", "1 producer->consumer pair, producer on CPU 0, consumer on CPU 1, 4M remote frees"),
    ("server1", "server-like request churn, 2M requests, 1 thread"),
    ("server2", "same total work split over 2 threads"),
    ("server4", "same total work split over 4 threads"),
    ("large", "60k alloc/touch/free of 64-512 KiB blocks, 16 live"),
    ("frag", "small blocks, free every other, differently sized blocks, scattered survivors"),
    ("python", "CPython (PYTHONMALLOC=malloc) building/sorting/deleting dicts, lists, strings"),
]


def log(msg):
    print(msg, flush=True)


def env_flag(name):
    return os.environ.get(name, "") not in ("", "0", "no", "false")


def find_lib(soname):
    dirs = ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
            "/usr/lib64", "/usr/lib", "/usr/local/lib"]
    try:
        ma = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True).stdout.strip()
        if ma:
            dirs.insert(0, "/usr/lib/" + ma)
    except OSError:
        pass
    for d in dirs:
        p = os.path.join(d, soname)
        if os.path.exists(p):
            return p
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.strip().startswith(soname + " ") and "=>" in line:
                return line.split("=>")[1].strip()
    except OSError:
        pass
    return None


def pkg_version(pkg):
    try:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else ""
    except OSError:
        return ""


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def machine_info():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION") or "?"
    except (ValueError, OSError):
        libc = "?"
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = "%.1f GiB" % (kb / 1048576)
    except (OSError, ValueError, IndexError):
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "kernel": platform.release(),
        "glibc": libc,
        "mem": mem,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


class Runner:
    def __init__(self, binary, timeout, tmp):
        self.binary = binary
        self.timeout = timeout
        self.tmp = tmp
        # the harness's own environment never carries LD_PRELOAD
        self.env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}

    def run(self, argv, preload, extra_env=None, exact_peak=False, phase=None):
        out = os.path.join(self.tmp, "out")
        err = os.path.join(self.tmp, "err")
        env = dict(self.env)
        if extra_env:
            env.update(extra_env)
        flag = ["-p" if phase is None else "-p%d" % phase] if exact_peak else []
        r = subprocess.run([self.binary] + flag
                           + [out, err, str(self.timeout), preload or "-"] + argv,
                           capture_output=True, text=True, env=env)
        res = {"status": "runner-error", "wall": None, "user": None, "sys": None,
               "maxrss_kb": None, "peak_kb": None, "peak_anon_kb": None, "out": "", "err": r.stderr}
        m = re.search(r"status=(\S+) wall=(\S+) user=(\S+) sys=(\S+) maxrss_kb=(\d+)", r.stdout)
        if m:
            res.update(status=m.group(1), wall=float(m.group(2)), user=float(m.group(3)),
                       sys=float(m.group(4)), maxrss_kb=int(m.group(5)))
        m = re.search(r"peak_kb=(\d+) peak_anon_kb=(\d+)", r.stdout)
        if m:
            res["peak_kb"], res["peak_anon_kb"] = int(m.group(1)), int(m.group(2))
        for name, key in ((out, "out"), (err, "err")):
            try:
                with open(name, errors="replace") as f:
                    res[key] = f.read()
            except OSError:
                pass
        kv = dict(re.findall(r"^(\w+)=(\S+)$", res["out"], re.M))
        res["checksum"] = kv.get("checksum")
        res["final_rss_kb"] = int(kv["final_rss_kb"]) if "final_rss_kb" in kv else None
        res["live_kb"] = int(kv["live_kb"]) if "live_kb" in kv else None
        return res


def mean(xs):
    xs = [x for x in xs if x is not None]
    return statistics.mean(xs) if xs else None


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def fmt_time(t):
    if t is None:
        return "–"
    if t < 0.1:
        return "%.1f ms" % (t * 1000)
    return "%.3f s" % t


def fmt_mib(kb):
    if kb is None:
        return "–"
    mib = kb / 1024
    return "%.1f MiB" % mib if mib < 100 else "%.0f MiB" % mib


def fmt_kib(kb):
    return "–" if kb is None else "{:,.0f} KiB".format(kb)


def fmt_ratio(r, places=2):
    return "" if r is None else " (%.*f×)" % (places, r)


def choose_allocs(repo, runner_bin, probe_bin, tmp, notes, broken):
    wanted = os.environ.get("BENCH_ALLOCS", "").replace(",", " ").split()
    if not wanted:
        wanted = list(ALLOC_ORDER)
    unknown = [a for a in wanted if a not in ALLOC_ORDER]
    if unknown:
        sys.exit("bench: unknown allocator(s) %s; known: %s" % (", ".join(unknown), ", ".join(ALLOC_ORDER)))
    wanted = [a for a in ALLOC_ORDER if a in wanted]
    probe = Runner(runner_bin, 30, tmp)
    allocs = []  # (name, lib path or None, description)
    for a in wanted:
        if a == "glibc":
            lib = None
            desc = "system malloc, no preload (libc6 %s)" % pkg_version("libc6")
        elif a == "ptalloc":
            lib = os.environ.get("BENCH_PTALLOC_LIB") or os.path.join(repo, "build", "libptalloc.so")
            if not os.path.exists(lib):
                notes.append("**ptalloc skipped**: %s not found (run `make`)." % os.path.relpath(lib, repo))
                log("bench: ptalloc skipped: %s not found" % lib)
                continue
            desc = "LD_PRELOAD=%s" % (os.path.relpath(lib, repo) if lib.startswith(repo) else lib)
        else:
            lib = find_lib(ALLOC_SONAME[a])
            if not lib:
                notes.append("**%s skipped**: %s not found (tools/deps.sh bench installs it)."
                             % (a, ALLOC_SONAME[a]))
                log("bench: %s skipped: %s not found" % (a, ALLOC_SONAME[a]))
                continue
            desc = "LD_PRELOAD=%s (%s %s)" % (lib, ALLOC_PKG[a], pkg_version(ALLOC_PKG[a]))
        # check that malloc really resolves to the allocator
        r = probe.run([probe_bin], lib)
        kv = dict(re.findall(r"^(\w+)=(.*)$", r["out"], re.M))
        got = kv.get("malloc", "?")
        if r["status"] != "0":
            notes.append("**%s skipped**: the probe program failed under it (%s)." % (a, r["status"]))
            broken.append(a)
            log("bench: %s skipped: probe failed (%s) %s" % (a, r["status"], r["err"].strip()[:200]))
            continue
        expect = os.path.realpath(lib) if lib else None
        ok = (os.path.realpath(got) == expect) if lib else ("libc.so" in got)
        if not ok:
            notes.append("**%s skipped**: malloc resolved to %s, not to the allocator." % (a, got))
            broken.append(a)
            log("bench: %s skipped: malloc resolved to %s" % (a, got))
            continue
        allocs.append((a, lib, desc))
    return allocs


def interleave(reps, allocs, works, dead, label, one):
    """Calls one(rep, workload, argv, env, alloc, lib) for every cell not
    dead, reps times: per repetition each workload on every allocator, the
    allocator order rotating.  Logs a line per workload with what one
    returned for each allocator."""
    for rep in range(reps):
        order = allocs[rep % len(allocs):] + allocs[:rep % len(allocs)]
        for wname, _, argv, env in works:
            line = ["%s=%s" % (aname, one(rep, wname, argv, env, aname, lib))
                    for aname, lib, _ in order if (wname, aname) not in dead]
            log("[%s%d/%d] %-15s %s" % (label, rep + 1, reps, wname, "  ".join(line)))


def choose_workloads(repo, bin_dir, scale):
    pats = [p.strip() for p in os.environ.get("BENCH_FILTER", "").split(",") if p.strip()]
    out = []
    for name, desc in WORKLOADS:
        if pats and not any(fnmatch.fnmatch(name, p) or p == name for p in pats):
            continue
        if name == "python":
            # Debian's interpreter when there (tools/deps.sh installs it):
            # the same binary every run, not whatever python3 the PATH has.
            py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else (sys.executable or "python3")
            argv = [py, os.path.join(repo, "bench", "workloads", "py_alloc.py"),
                    repr(scale)]
            env = {"PYTHONMALLOC": "malloc", "PYTHONHASHSEED": "0"}
        else:
            argv = [os.path.join(bin_dir, name), repr(scale)]
            env = None
        out.append((name, desc, argv, env))
    if not out:
        sys.exit("bench: BENCH_FILTER=%s selects no workload; names: %s"
                 % (os.environ.get("BENCH_FILTER"), ", ".join(n for n, _ in WORKLOADS)))
    return out


def callgrind_self_cost(path, func):
    """Self cost (Ir) of the function named func in a callgrind output file:
    its cost lines, minus the inclusive costs of the calls it makes."""
    names = {}
    cur = None
    total = 0
    skip_next = False
    with open(path, errors="replace") as f:
        for line in f:
            if skip_next:
                skip_next = False
                continue
            c = line[:1]
            if c.isdigit() or c in "+-*":
                if cur is not None and names.get(cur) == func:
                    parts = line.split()
                    if len(parts) >= 2:
                        total += int(parts[1])
            elif line.startswith(("fn=", "cfn=")):
                m = re.match(r"c?fn=(?:\((\d+)\))?\s*(.*)$", line.rstrip("\n"))
                key = m.group(1) or m.group(2)
                if m.group(2):
                    names[key] = m.group(2)
                if line.startswith("fn="):
                    cur = key
            elif line.startswith("calls="):
                skip_next = True           # the next line is the call's inclusive cost
    return total


def callgrind(vg, argv, lib, extra_env=None, out="/dev/null", timeout=300):
    """Runs argv under callgrind, with lib preloaded in valgrind's
    environment only (ptalloc as it runs outside valgrind); returns the
    instructions collected.  RuntimeError when valgrind fails."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env.update(extra_env or {})
    if lib:
        env["LD_PRELOAD"] = lib
        env["PTALLOC_VALGRIND"] = "0"
    cmd = [vg, "--tool=callgrind", "--soname-synonyms=somalloc=NONE",
           "--callgrind-out-file=" + out] + argv
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    m = re.search(r"Collected\s*:\s*(\d+)", r.stderr)
    if r.returncode != 0 or not m:
        raise RuntimeError("valgrind failed (rc %d): %s" % (r.returncode, r.stderr.strip()[-300:]))
    return int(m.group(1))


def run_fastpath(allocs, fast_bin, tmp, notes):
    """Instructions per malloc(32)+free pair under callgrind: runs with N and
    2N pairs; the difference / N cancels startup and exit.  'total' counts
    every instruction; 'inside' leaves out main's own (the loop and the call
    sites), which leaves malloc, free, everything they call and the PLT
    stubs, whatever their names."""
    vg = shutil.which("valgrind")
    if not vg:
        notes.append("fast path not counted: valgrind not installed.")
        return {}
    n = 100000
    out = os.path.join(tmp, "callgrind.out")

    def measure(lib, count):
        total = callgrind(vg, [fast_bin, str(count)], lib, out=out)
        return total, callgrind_self_cost(out, "main")

    res = {}
    for name, lib, _ in allocs:
        try:
            t1, m1 = measure(lib, n)
            t2, m2 = measure(lib, 2 * n)
            total = (t2 - t1) / n
            inside = (t2 - t1 - (m2 - m1)) / n
            res[name] = (inside if m2 > m1 else None, total)
            log("bench: fastpath %-9s %6.1f instr/pair in malloc+free, %6.1f with the loop"
                % (name, inside, total))
        except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as e:
            notes.append("fast path of %s not counted: %s" % (name, str(e)[:200]))
            log("bench: fastpath %s failed: %s" % (name, e))
    return res


# Workloads whose instruction count depends on scheduling (spin-waits).
INSTR_SKIP = {"prodcons", "prodcons_pinned"}


def run_instr(allocs, works, scale, notes):
    """Whole-program instruction counts under callgrind, one run per cell
    (the count is deterministic up to scheduling, so one run is enough):
    a measure of work done that the machine's noise cannot move.  Threads
    run one at a time under valgrind; workloads that spin-wait are left
    out.  Returns {(workload, alloc): instructions}."""
    vg = shutil.which("valgrind")
    if not vg:
        notes.append("instructions not counted: valgrind not installed.")
        return {}
    res = {}
    for wname, _, argv, wenv in works:
        if wname in INSTR_SKIP:
            continue
        argv = argv[:-1] + [repr(scale)]       # the scale is the last argument
        counts = []
        for aname, lib, _ in allocs:
            try:
                res[(wname, aname)] = callgrind(vg, argv, lib, wenv, timeout=600)
                counts.append("%s=%.0fM" % (aname, res[(wname, aname)] / 1e6))
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                notes.append("instructions of %s on %s not counted: %s" % (wname, aname, str(e)[:160]))
                counts.append("%s=FAIL" % aname)
        log("bench: instructions %-15s %s" % (wname, "  ".join(counts)))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    repo, bin_dir = os.path.abspath(args.repo), os.path.abspath(args.bin)

    quick = env_flag("BENCH_QUICK")
    runs = int(os.environ.get("BENCH_RUNS", "1" if quick else "9"))
    peak_runs = int(os.environ.get("BENCH_PEAK_RUNS", "1" if quick else str(LAYOUT_PHASES)))
    scale = float(os.environ.get("BENCH_SCALE", "0.02" if quick else "1"))
    timeout = int(os.environ.get("BENCH_TIMEOUT", "30" if quick else "300"))
    out_dir = os.environ.get("BENCH_OUT") or os.path.join(repo, "bench", "results")
    do_fast = os.environ.get("BENCH_FASTPATH", "1") not in ("0", "no", "false")
    do_instr = os.environ.get("BENCH_INSTR", "0" if quick else "1") not in ("0", "no", "false")
    instr_scale = float(os.environ.get("BENCH_INSTR_SCALE", "0.05"))
    os.makedirs(out_dir, exist_ok=True)
    t_start = time.time()
    load_start = loadavg()
    notes = []
    broken = []                        # allocators present but unusable

    with tempfile.TemporaryDirectory(prefix="ptalloc-bench.") as tmp:
        runner_bin = os.path.join(bin_dir, "runner")
        allocs = choose_allocs(repo, runner_bin, os.path.join(bin_dir, "probe"), tmp, notes, broken)
        if not allocs:
            sys.exit("bench: no allocator to run")
        works = choose_workloads(repo, bin_dir, scale)
        names = [a for a, _, _ in allocs]
        log("bench: %d workload(s) x %s, %d run(s), scale %g%s"
            % (len(works), ", ".join(names), runs, scale, " (quick)" if quick else ""))

        runner = Runner(runner_bin, timeout, tmp)
        raw = []                       # every run
        cell = {}                      # (workload, alloc) -> list of results
        dead = {}                      # (workload, alloc) -> reason; no more runs

        def timed(rep, wname, argv, env, aname, lib):
            r = runner.run(argv, lib, env)
            r.update(rep=rep, workload=wname, alloc=aname)
            raw.append(r)
            if r["status"] != "0":
                msg = "exit %s" % r["status"] if r["status"].isdigit() else r["status"]
                dead[(wname, aname)] = msg
                log("bench: %s on %s failed: %s %s" % (wname, aname, msg, r["err"].strip()[-300:]))
                return "FAIL"
            cell.setdefault((wname, aname), []).append(r)
            return fmt_time(r["wall"])

        interleave(runs, allocs, works, dead, "", timed)

        # exact peak RSS: runs of their own (the runner's stops slow the child),
        # repetition k in address layout phase k mod 16 (bench/runner.c)
        peaks, anon_peaks = {}, {}
        phased = [True]

        def traced(rep, wname, argv, env, aname, lib):
            r = runner.run(argv, lib, env, exact_peak=True,
                           phase=rep % LAYOUT_PHASES if phased[0] else None)
            if phased[0] and r["status"] == "125" and "address layout" in r["err"]:
                phased[0] = False
                notes.append("the runner could not fix the address layout (%s), so the exact peaks "
                             "come from random layouts, and their median is shown"
                             % r["err"].strip()[-120:])
                r = runner.run(argv, lib, env, exact_peak=True)
            if r["status"] != "0" or r["peak_kb"] is None:
                return "–"
            peaks.setdefault((wname, aname), []).append(r["peak_kb"])
            anon_peaks.setdefault((wname, aname), []).append(r["peak_anon_kb"])
            raw.append({"rep": "peak%d" % rep, "workload": wname, "alloc": aname,
                        "status": r["status"], "peak_kb": r["peak_kb"],
                        "peak_anon_kb": r["peak_anon_kb"]})
            return fmt_mib(r["peak_kb"])

        # the preload floor: glibc's malloc under an empty preloaded library
        # (bench/empty.c), measured alongside for the peak tables only
        floor_lib = os.path.join(bin_dir, "libempty.so")
        floor = ([(FLOOR, floor_lib, None)]
                 if "glibc" in names and os.path.exists(floor_lib) else [])
        interleave(peak_runs, allocs + floor, works, dead, "peak ", traced)

        if peak_runs and not peaks:
            notes.append("the exact peak (`runner -p`: ptrace and seccomp) failed on every run, so the "
                         "peak RSS table shows ru_maxrss medians instead")

        # checksums: every allocator must agree with glibc (or the majority)
        for wname, _, _, _ in works:
            sums = {a: {r["checksum"] for r in cell.get((wname, a), [])} for a in names}
            ref = None
            if "glibc" in sums and len(sums["glibc"]) == 1:
                ref = next(iter(sums["glibc"]))
            else:
                votes = [next(iter(s)) for s in sums.values() if len(s) == 1]
                if votes:
                    ref = max(set(votes), key=votes.count)
            for a, s in sums.items():
                if not s or (wname, a) in dead:
                    continue
                if len(s) != 1 or ref is None or next(iter(s)) != ref:
                    dead[(wname, a)] = "wrong checksum"
                    log("bench: %s on %s: checksum %s differs from %s" % (wname, a, sorted(map(str, s)), ref))

        fast = run_fastpath(allocs, os.path.join(bin_dir, "fastpath"), tmp, notes) if do_fast else {}
        instr = run_instr(allocs, works, instr_scale, notes) if do_instr else {}

    elapsed = time.time() - t_start
    info = machine_info()
    info["load"] = "%s at start, %s at end" % (load_start, loadavg())

    # medians (the exact peaks: the mean over the layout phases)
    peak_of = mean if phased[0] else median
    med = {}
    for (w, a), rs in cell.items():
        if (w, a) in dead:
            continue
        walls = [r["wall"] for r in rs]
        med[(w, a)] = {
            "wall": median(walls),
            "best": min(walls),
            "spread": (median([abs(x - median(walls)) for x in walls]) / median(walls)
                       if len(walls) > 2 and median(walls) else 0.0),
            "maxrss_kb": median([r["maxrss_kb"] for r in rs]),
            "peak_kb": (peak_of(peaks.get((w, a), [])) if peaks
                        else median([r["maxrss_kb"] for r in rs])),
            "peak_anon_kb": peak_of(anon_peaks.get((w, a), [])),
            "final_rss_kb": median([r["final_rss_kb"] for r in rs]),
            "live_kb": median([r["live_kb"] for r in rs]),
            "n": len(rs),
        }

    # paired ratios: each run over glibc's run of the same workload in the
    # same repetition (seconds apart, so slow drifts in the machine's load
    # cancel); the median over the repetitions, and the lowest and highest
    for (w, a), m in med.items():
        g = {r["rep"]: r["wall"] for r in cell.get((w, "glibc"), [])}
        rs = sorted(r["wall"] / g[r["rep"]] for r in cell[(w, a)] if g.get(r["rep"]))
        if rs and (w, "glibc") not in dead:
            m["paired"] = (median(rs), rs[0], rs[-1])

    for (w, a), ks in peaks.items():
        if a == FLOOR:
            med[(w, a)] = {"peak_kb": peak_of(ks), "peak_anon_kb": peak_of(anon_peaks[(w, a)]), "n": 0}
    write_csv(os.path.join(out_dir, "latest.csv"), raw)
    md = render_md(works, allocs, med, dead, fast, instr, instr_scale, notes, info, runs, peak_runs,
                   scale, quick, elapsed)
    with open(os.path.join(out_dir, "latest.md"), "w") as f:
        f.write(md)
    svg = render_svg(works, names, med, dead, info, runs, quick)
    with open(os.path.join(out_dir, "latest.svg"), "w") as f:
        f.write(svg)
    log("bench: done in %.0f s; wrote %s/latest.{md,svg,csv}" % (elapsed, os.path.relpath(out_dir, repo)))
    if broken:
        log("bench: unusable allocator(s): %s (see latest.md)" % ", ".join(broken))
    if dead:
        log("bench: %d cell(s) failed: %s" % (len(dead), ", ".join("%s/%s (%s)" % (w, a, why)
                                                                  for (w, a), why in sorted(dead.items()))))
        return 1
    return 1 if broken else 0


def write_csv(path, raw):
    cols = ["rep", "workload", "alloc", "status", "wall", "user", "sys", "maxrss_kb",
            "peak_kb", "peak_anon_kb", "final_rss_kb", "live_kb", "checksum"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in raw:
            w.writerow(["" if r.get(c) is None else r.get(c) for c in cols])


def ratio(med, w, a, key):
    g, x = med.get((w, "glibc")), med.get((w, a))
    if not g or not x or not g.get(key) or x.get(key) is None:
        return None
    return x[key] / g[key]


def geomean_row(works, names, med, key, places=2):
    """Geometric mean of the ratios to glibc; when some workloads are missing
    for an allocator (failed), says over how many it was taken."""
    cells = []
    for a in names:
        rs = [ratio(med, w, a, key) for w, _, _, _ in works]
        ok = [r for r in rs if r]
        g = geomean(ok)
        if not g:
            cells.append("–")
        elif len(ok) < len(rs):
            cells.append("**%.*f×** (%d of %d workloads)" % (places, g, len(ok), len(rs)))
        else:
            cells.append("**%.*f×**" % (places, g))
    return "| **geomean of ratios** | " + " | ".join(cells) + " |"


def render_md(works, allocs, med, dead, fast, instr, instr_scale, notes, info, runs, peak_runs,
              scale, quick, elapsed):
    """latest.md: one table per metric, workloads as rows, allocators as columns."""
    names = [a for a, _, _ in allocs]
    has_glibc = "glibc" in names
    L = []
    L.append("# ptalloc benchmark results")
    L.append("")
    if quick:
        L.append("> **Quick smoke run** (BENCH_QUICK=1: scale %g, %d run): the numbers only show the "
                 "format; run `make bench` for real ones." % (scale, runs))
        L.append("")
    L.append("- date: %s; harness time %.0f s; load average %s" % (info["date"], elapsed, info["load"]))
    L.append("- machine: %s × %s, %s RAM; kernel %s; %s"
             % (info["nproc"], info["cpu"], info["mem"], info["kernel"], info["glibc"]))
    L.append("- method: %d run(s) per cell, median; allocators interleaved round-robin per repetition; "
             "workload scale %g; wall time of the child (bench/runner.c); peak RSS exact, from %d "
             "more run(s) per cell traced by `runner -pK`, run k in address layout phase k mod %d"
             % (runs, scale, peak_runs, LAYOUT_PHASES))
    L.append("- allocators:")
    for a, _, desc in allocs:
        L.append("  - **%s**: %s" % (a, desc))
    for n in notes:
        L.append("- " + n)
    L.append("")

    def cell_text(w, a, key, fmt, places=2):
        if (w, a) in dead:
            return "**FAIL** (%s)" % dead[(w, a)]
        m = med.get((w, a))
        if not m or m.get(key) is None:
            return "–"
        r = ratio(med, w, a, key) if has_glibc and a != "glibc" else None
        return fmt(m[key]) + fmt_ratio(r, places)

    def table(key, fmt, places=2, more_rows=None, cols=names):
        """A row per workload (and more_rows(w)'s after it), then the geomean."""
        L.append("| workload | " + " | ".join(cols) + " |")
        L.append("|---|" + "---:|" * len(cols))
        for w, _, _, _ in works:
            L.append("| %s | " % w + " | ".join(cell_text(w, a, key, fmt, places) for a in cols) + " |")
            if more_rows:
                L.extend(more_rows(w, cols))
        if has_glibc:
            L.append(geomean_row(works, cols, med, key, places))
        L.append("")

    def paired_table():
        others = [a for a in names if a != "glibc"]
        L.append("### Paired ratio to glibc")
        L.append("")
        L.append("Each run's wall time over glibc's run of the same workload in the same repetition "
                 "(the two ran seconds apart, so slow changes in the machine's load cancel out): the "
                 "median over the %d repetitions, and in brackets the lowest and highest." % runs)
        L.append("")
        L.append("| workload | " + " | ".join(others) + " |")
        L.append("|---|" + "---:|" * len(others))
        for w, _, _, _ in works:
            cells = []
            for a in others:
                pr = med.get((w, a), {}).get("paired")
                cells.append("**FAIL** (%s)" % dead[(w, a)] if (w, a) in dead else
                             "%.2f× [%.2f–%.2f]" % pr if pr else "–")
            L.append("| %s | " % w + " | ".join(cells) + " |")
        gm = []
        for a in others:
            ps = [med[(w, a)]["paired"][0] for w, _, _, _ in works if med.get((w, a), {}).get("paired")]
            gm.append("**%.2f×**" % geomean(ps) + ("" if len(ps) == len(works)
                                                  else " (%d of %d workloads)" % (len(ps), len(works)))
                      if ps else "–")
        L.append("| **geomean of medians** | " + " | ".join(gm) + " |")
        L.append("")

    # the peak tables' last column: the preload floor, when measured
    peak_cols = names + [FLOOR] if any(a == FLOOR for _, a in med) else names

    def frag_final_row(w, cols):
        if w != "frag":
            return []
        live = [m["live_kb"] for (ww, _), m in med.items() if ww == w and m.get("live_kb") is not None]
        label = "frag (final RSS; %s live)" % fmt_mib(live[0]) if live else "frag (final RSS)"
        return ["| %s | " % label
                + " | ".join(cell_text(w, a, "final_rss_kb", fmt_kib, 3) for a in cols) + " |"]

    L.append("## Wall time")
    L.append("")
    L.append("Median wall time; in parentheses the ratio to glibc (< 1 = faster than glibc).")
    L.append("")
    table("wall", fmt_time)
    if runs > 1:
        L.append("### Fastest run")
        L.append("")
        L.append("The fastest of the %d runs of each cell: other load on the machine only ever adds "
                 "time, so this is the run it disturbed least." % runs)
        L.append("")
        table("best", fmt_time)
        if has_glibc:
            paired_table()

    L.append("## Peak RSS")
    L.append("")
    L.append("Exact peak resident set in KiB, the mean over the address layout phases (`runner -pK`: "
             "the largest `smaps_rollup` Rss at the entry of every call that can shrink it and at "
             "exit, with randomisation off and the shared libraries shifted by K pages, K = 0..15, "
             "which is every way libc's pages can fall in the kernel's 64 KiB fault-around windows; "
             "ru_maxrss, which the kernel counts in per-CPU batches, can be ~128 KiB a CPU short, "
             "and is in latest.csv); in parentheses the ratio to glibc, to three places."
             + (" `frag (final RSS)` is the resident set at the end of frag, when only a thin scattered "
                "set of blocks is still live (their size is in the row's label)."
                if any(w == "frag" for w, _, _, _ in works) else "")
             + (" *%s* is glibc's malloc with an empty library preloaded (bench/empty.c): what any "
                "preloaded allocator pays before its own code and data (one more file mapped, the "
                "loader's bookkeeping for it, a longer environment)." % FLOOR
                if peak_cols != names else ""))
    L.append("")
    table("peak_kb", fmt_kib, 3, frag_final_row, peak_cols)
    if any(m.get("peak_anon_kb") for m in med.values()):
        L.append("### Peak anonymous memory")
        L.append("")
        L.append("The same runs' peak of the anonymous part of the resident set alone (heap, mappings, "
                 "stacks, and the libraries' written data pages: `smaps_rollup` Anonymous), the memory "
                 "an allocator manages, without the code and read-only pages of libc and of the "
                 "allocator's own library.  It may come at another moment "
                 "than the peak above: a program that keeps its heap to the end peaks there, after "
                 "printf and exit have faulted in more of libc.")
        L.append("")
        table("peak_anon_kb", fmt_kib, 3, cols=peak_cols)

    L.append("## Instructions (whole program)")
    L.append("")
    if instr:
        L.append("Every instruction the workload process executed, allocator and program together, "
                 "under `valgrind --tool=callgrind` at scale %g (one run: the count does not depend on "
                 "the machine's load); in parentheses the ratio to glibc.  Threads run one at a time "
                 "under valgrind; %s left out (its spin-waits make the count depend on scheduling)."
                 % (instr_scale, ", ".join(sorted(INSTR_SKIP))))
        L.append("")
        L.append("| workload | " + " | ".join(names) + " |")
        L.append("|---|" + "---:|" * len(names))
        logs = {a: [] for a in names}
        for w, _, _, _ in works:
            if w in INSTR_SKIP:
                continue
            cells = []
            g = instr.get((w, "glibc"))
            for a in names:
                v = instr.get((w, a))
                if v is None:
                    cells.append("–")
                    continue
                r = v / g if g and a != "glibc" else None
                if g:
                    logs[a].append(math.log(v / g))
                cells.append("%.1fM%s" % (v / 1e6, fmt_ratio(r)))
            L.append("| %s | %s |" % (w, " | ".join(cells)))
        if has_glibc:
            L.append("| **geomean of ratios** | " + " | ".join(
                "**%.2f×**" % math.exp(sum(logs[a]) / len(logs[a])) if logs[a] else "–"
                for a in names) + " |")
    else:
        L.append("Not measured in this run (BENCH_INSTR=0, or a quick run).")
    L.append("")

    L.append("## Fast path: instructions per malloc(32)+free pair")
    L.append("")
    if fast:
        L.append("bench/fastpath.c under `valgrind --tool=callgrind`, run with N=100000 and 2N pairs; "
                 "(count(2N) − count(N)) / N cancels startup and exit.  *with the loop* counts every "
                 "instruction; *in malloc+free* leaves out main's own instructions (the loop and the call "
                 "sites, 10 per pair), so it counts malloc, free, whatever they call and the PLT stubs.")
        L.append("")
        L.append("| allocator | in malloc+free | with the loop |")
        L.append("|---|---:|---:|")
        for a in names:
            if a in fast:
                inside, total = fast[a]
                L.append("| %s | %s | %.1f |" % (a, "%.1f" % inside if inside else "n/a", total))
    else:
        L.append("Not measured in this run.")
    L.append("")

    noisy = sorted(((m["spread"], w, a) for (w, a), m in med.items() if m["n"] > 2 and m["spread"] > 0.05),
                   reverse=True)
    L.append("## Workloads")
    L.append("")
    L.append("Counts are those at scale 1 (this run: scale %g); sources in bench/workloads/." % scale)
    L.append("")
    for w, desc, _, _ in works:
        L.append("- **%s**: %s" % (w, desc))
    L.append("")
    L.append("Every workload prints a checksum of the data it handled; a run whose checksum differs from "
             "glibc's is shown as FAIL (wrong checksum).  Raw runs: `latest.csv`; chart: `latest.svg`.")
    if noisy:
        L.append("")
        L.append("Noisy cells (median absolute deviation of the wall times above 5%% of the median; "
                 "other processes on the machine show up here): %s."
                 % ", ".join("%s/%s %.0f%%" % (w, a, s * 100) for s, w, a in noisy[:10]))
    L.append("")
    return "\n".join(L)


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_svg(works, names, med, dead, info, runs, quick):
    """Grouped bars of the time ratio to glibc, log scale, bars grow from 1.0."""
    others = [a for a in names if a != "glibc"]
    groups = [w for w, _, _, _ in works]
    if "glibc" in names:
        vals = {(w, a): ratio(med, w, a, "wall") for w in groups for a in others}
        for a in others:
            vals[("geomean", a)] = geomean([vals[(w, a)] for w in groups])
        groups = groups + ["geomean"]
    else:
        vals = {}
    present = [v for v in vals.values() if v]
    lo = min(present + [1.0])
    hi = max(present + [1.0])
    lo_e = math.floor(math.log2(max(lo, 1 / 64)) - 0.15)
    hi_e = math.ceil(math.log2(min(hi, 64)) + 0.15)
    lo_e, hi_e = min(lo_e, -1), max(hi_e, 1)

    W_LEFT, W_RIGHT, H_TOP, H_PLOT, H_BOTTOM = 70, 20, 70, 320, 95
    nb = max(len(others), 1)
    bar_w = 13 if nb <= 4 else 10
    group_w = nb * bar_w + 18
    width = W_LEFT + W_RIGHT + group_w * len(groups) + 10
    title = "Wall time relative to glibc (median of %d run%s; lower is faster; log scale)" % (
        runs, "" if runs == 1 else "s")
    if quick:
        title += " — QUICK SMOKE RUN"
    width = int(max(width, 640, W_LEFT + 8.6 * len(title) + 20))
    height = H_TOP + H_PLOT + H_BOTTOM

    def y(v):
        e = math.log2(min(max(v, 2.0 ** lo_e), 2.0 ** hi_e))
        return H_TOP + H_PLOT * (hi_e - e) / (hi_e - lo_e)

    S = []
    S.append('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
             'font-family="DejaVu Sans, Arial, sans-serif">' % (width, height, width, height))
    S.append('<rect width="100%" height="100%" fill="white"/>')
    S.append('<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>' % (W_LEFT, esc(title)))
    S.append('<text x="%d" y="40" font-size="11" fill="#444">%s</text>'
             % (W_LEFT, esc("%s; %s × %s; %s; kernel %s" % (info["date"], info["nproc"], info["cpu"],
                                                              info["glibc"], info["kernel"]))))
    # legend
    lx = W_LEFT
    for a in others:
        S.append('<rect x="%d" y="50" width="12" height="12" fill="%s"/>' % (lx, COLORS.get(a, "#888")))
        S.append('<text x="%d" y="60" font-size="12">%s</text>' % (lx + 16, esc(a)))
        lx += 24 + 8 * len(a)
    S.append('<line x1="%d" y1="56" x2="%d" y2="56" stroke="black" stroke-width="2"/>' % (lx, lx + 18))
    S.append('<text x="%d" y="60" font-size="12">glibc = 1.0</text>' % (lx + 22))
    # grid and axis
    x0, x1 = W_LEFT, width - W_RIGHT
    for e in range(lo_e, hi_e + 1):
        v = 2.0 ** e
        yy = y(v)
        label = ("%g" % v) if v >= 1 else "1/%d" % round(1 / v)
        S.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s" stroke-width="%s"/>'
                 % (x0, yy, x1, yy, "black" if e == 0 else "#ddd", "1.5" if e == 0 else "1"))
        S.append('<text x="%d" y="%.1f" font-size="11" text-anchor="end">%s×</text>' % (x0 - 6, yy + 4, label))
    S.append('<text x="16" y="%d" font-size="12" transform="rotate(-90 16 %d)" text-anchor="middle">'
             'time / glibc time</text>' % (H_TOP + H_PLOT // 2, H_TOP + H_PLOT // 2))
    S.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (x0, H_TOP, x0, H_TOP + H_PLOT))
    base = y(1.0)
    for gi, g in enumerate(groups):
        gx = x0 + 10 + gi * group_w
        if g == "geomean":
            S.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999" stroke-dasharray="3,3"/>'
                     % (gx - 6, H_TOP, gx - 6, H_TOP + H_PLOT))
        for bi, a in enumerate(others):
            bx = gx + bi * bar_w
            v = vals.get((g, a))
            if v is None:
                failed = (g, a) in dead
                S.append('<text x="%.1f" y="%.1f" font-size="9" text-anchor="middle" fill="%s">%s</text>'
                         % (bx + bar_w / 2, base - 3, COLORS.get(a, "#888"), "✗" if failed else "–"))
                continue
            yy = y(v)
            top, h = min(yy, base), abs(base - yy)
            S.append('<rect x="%.1f" y="%.1f" width="%d" height="%.1f" fill="%s"><title>%s %s: %.3f×</title></rect>'
                     % (bx, top, bar_w - 2, max(h, 0.8), COLORS.get(a, "#888"), esc(g), esc(a), v))
            ty = (yy - 4) if v >= 1 else (yy + 4)
            anchor = "start"
            S.append('<text x="%.1f" y="%.1f" font-size="8" transform="rotate(-90 %.1f %.1f)" '
                     'text-anchor="%s" fill="#222">%.2f</text>'
                     % (bx + bar_w / 2 + 2, ty, bx + bar_w / 2 + 2, ty,
                        anchor if v >= 1 else "end", v))
        cx = gx + (nb * bar_w) / 2
        ly = H_TOP + H_PLOT + 14
        S.append('<text x="%.1f" y="%d" font-size="11" text-anchor="end" transform="rotate(-35 %.1f %d)"%s>%s</text>'
                 % (cx, ly, cx, ly, ' font-weight="bold"' if g == "geomean" else "", esc(g)))
    if any((g, a) in dead for g in groups for a in others):
        S.append('<text x="%d" y="%d" font-size="11" fill="#444">✗ = failed (crash, timeout or wrong '
                 'checksum; see latest.md)</text>' % (W_LEFT, height - 8))
    if not vals:
        S.append('<text x="%d" y="%d" font-size="14">glibc not in this run: no ratios</text>'
                 % (W_LEFT + 20, H_TOP + 40))
    S.append("</svg>")
    return "\n".join(S) + "\n"


if __name__ == "__main__":
    sys.exit(main())
