"""Running the benchmark: choosing the allocators and workloads, the timed
and the exact-peak runs through build/bench/runner, the checksum check and
the instruction counts under callgrind.  What they measure is gathered in a
Results, which stats.py summarises and report.py and chart.py render."""
import csv
import datetime
import fnmatch
import os
import platform
import re
import shutil
import subprocess
import sys

from common import ALLOC_ORDER, FLOOR, INSTR_SKIP, LAYOUT_PHASES, MEMORY_ONLY, fmt_mib, fmt_time, log, timed

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

# name, description; argv is built in choose_workloads()
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
    ("memreturn", "400k x 16-512 B, free 98% (every 50th kept), 1 s of light activity, "
                  "then malloc_trim(0): the RSS kept before and after (memory only, not timed)"),
    ("python", "CPython (PYTHONMALLOC=malloc) building/sorting/deleting dicts, lists, strings"),
]


class Results:
    """Everything a bench run measured or decided along the way."""

    def __init__(self):
        self.works = []         # (name, description, argv, extra env or None)
        self.allocs = []        # (name, lib path or None, description)
        self.notes = []         # lines for latest.md's header
        self.broken = []        # allocators present but unusable
        self.raw = []           # every run, as latest.csv has it
        self.cell = {}          # (workload, alloc) -> list of results
        self.dead = {}          # (workload, alloc) -> reason; no more runs
        self.peaks = {}         # (workload, alloc) -> exact peaks, KiB
        self.anon_peaks = {}    # (workload, alloc) -> their anonymous part, KiB
        self.phased = True      # False: the peaks come from random layouts
        self.fast = {}          # alloc -> (instr in malloc+free or None, with the loop)
        self.instr = {}         # (workload, alloc) -> instructions

    @property
    def names(self):
        return [a for a, _, _ in self.allocs]


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


def utc_minute(dt):
    return dt.strftime("%Y-%m-%d %H:%M UTC")


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
        "date": utc_minute(datetime.datetime.now(datetime.timezone.utc)),
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
        for key in ("final_rss_kb", "trimmed_rss_kb", "live_kb"):
            res[key] = int(kv[key]) if key in kv else None
        return res


def alloc_lib(a, repo, notes):
    """(lib path or None, description) of allocator a, or None when its
    library is missing."""
    if a == "glibc":
        return None, "system malloc, no preload (libc6 %s)" % pkg_version("libc6")
    if a == "ptalloc":
        lib = os.environ.get("BENCH_PTALLOC_LIB") or os.path.join(repo, "build", "libptalloc.so")
        if not os.path.exists(lib):
            notes.append("**ptalloc skipped**: %s not found (run `make`)." % os.path.relpath(lib, repo))
            log("bench: ptalloc skipped: %s not found" % lib)
            return None
        return lib, "LD_PRELOAD=%s" % (os.path.relpath(lib, repo) if lib.startswith(repo) else lib)
    lib = find_lib(ALLOC_SONAME[a])
    if not lib:
        notes.append("**%s skipped**: %s not found (tools/deps.sh bench installs it)."
                     % (a, ALLOC_SONAME[a]))
        log("bench: %s skipped: %s not found" % (a, ALLOC_SONAME[a]))
        return None
    return lib, "LD_PRELOAD=%s (%s %s)" % (lib, ALLOC_PKG[a], pkg_version(ALLOC_PKG[a]))


def probe_ok(probe, probe_bin, a, lib, notes, broken):
    """Whether malloc really resolves to the allocator under its preload."""
    r = probe.run([probe_bin], lib)
    kv = dict(re.findall(r"^(\w+)=(.*)$", r["out"], re.M))
    got = kv.get("malloc", "?")
    if r["status"] != "0":
        notes.append("**%s skipped**: the probe program failed under it (%s)." % (a, r["status"]))
        broken.append(a)
        log("bench: %s skipped: probe failed (%s) %s" % (a, r["status"], r["err"].strip()[:200]))
        return False
    expect = os.path.realpath(lib) if lib else None
    ok = (os.path.realpath(got) == expect) if lib else ("libc.so" in got)
    if not ok:
        notes.append("**%s skipped**: malloc resolved to %s, not to the allocator." % (a, got))
        broken.append(a)
        log("bench: %s skipped: malloc resolved to %s" % (a, got))
    return ok


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
        found = alloc_lib(a, repo, notes)
        if found is None:
            continue
        lib, desc = found
        if probe_ok(probe, probe_bin, a, lib, notes, broken):
            allocs.append((a, lib, desc))
    return allocs


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


def run_timed(res, runner, runs):
    """The timed runs: wall time, ru_maxrss and the workload's own output."""
    def timed(rep, wname, argv, env, aname, lib):
        r = runner.run(argv, lib, env)
        r.update(rep=rep, workload=wname, alloc=aname)
        res.raw.append(r)
        if r["status"] != "0":
            msg = "exit %s" % r["status"] if r["status"].isdigit() else r["status"]
            res.dead[(wname, aname)] = msg
            log("bench: %s on %s failed: %s %s" % (wname, aname, msg, r["err"].strip()[-300:]))
            return "FAIL"
        res.cell.setdefault((wname, aname), []).append(r)
        return fmt_mib(r["final_rss_kb"]) if wname in MEMORY_ONLY else fmt_time(r["wall"])

    interleave(runs, res.allocs, res.works, res.dead, "", timed)


def run_peaks(res, runner, peak_runs, bin_dir):
    """Exact peak RSS: runs of their own (the runner's stops slow the
    child), repetition k in address layout phase k mod 16 (bench/runner.c);
    random layouts when the runner cannot fix them."""
    def traced(rep, wname, argv, env, aname, lib):
        r = runner.run(argv, lib, env, exact_peak=True,
                       phase=rep % LAYOUT_PHASES if res.phased else None)
        if res.phased and r["status"] == "125" and "address layout" in r["err"]:
            res.phased = False
            res.notes.append("the runner could not fix the address layout (%s), so the exact peaks "
                             "come from random layouts, and their median is shown"
                             % r["err"].strip()[-120:])
            r = runner.run(argv, lib, env, exact_peak=True)
        if r["status"] != "0" or r["peak_kb"] is None:
            return "–"
        res.peaks.setdefault((wname, aname), []).append(r["peak_kb"])
        res.anon_peaks.setdefault((wname, aname), []).append(r["peak_anon_kb"])
        res.raw.append({"rep": "peak%d" % rep, "workload": wname, "alloc": aname,
                        "status": r["status"], "peak_kb": r["peak_kb"],
                        "peak_anon_kb": r["peak_anon_kb"]})
        return fmt_mib(r["peak_kb"])

    # the preload floor: glibc's malloc under an empty preloaded library
    # (bench/empty.c), measured alongside for the peak tables only
    floor_lib = os.path.join(bin_dir, "libempty.so")
    floor = ([(FLOOR, floor_lib, None)]
             if "glibc" in res.names and os.path.exists(floor_lib) else [])
    interleave(peak_runs, res.allocs + floor, res.works, res.dead, "peak ", traced)

    if peak_runs and not res.peaks:
        res.notes.append("the exact peak (`runner -p`: ptrace and seccomp) failed on every run, so the "
                         "peak RSS table shows ru_maxrss medians instead")


def check_checksums(res):
    """Every allocator must agree with glibc's checksum (or, without a
    single one from glibc, the majority's); a cell that does not is dead."""
    for wname, _, _, _ in res.works:
        sums = {a: {r["checksum"] for r in res.cell.get((wname, a), [])} for a in res.names}
        ref = None
        if "glibc" in sums and len(sums["glibc"]) == 1:
            ref = next(iter(sums["glibc"]))
        else:
            votes = [next(iter(s)) for s in sums.values() if len(s) == 1]
            if votes:
                ref = max(set(votes), key=votes.count)
        for a, s in sums.items():
            if not s or (wname, a) in res.dead:
                continue
            if len(s) != 1 or ref is None or next(iter(s)) != ref:
                res.dead[(wname, a)] = "wrong checksum"
                log("bench: %s on %s: checksum %s differs from %s" % (wname, a, sorted(map(str, s)), ref))


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


def run_instr(allocs, works, scale, notes):
    """Whole-program instruction counts under callgrind, one run per cell
    (the count is deterministic up to scheduling, so one run is enough):
    a measure of work done that the machine's noise cannot move.  Threads
    run one at a time under valgrind; workloads that spin-wait are left
    out, and so are the memory-only ones, which do as much as fits in a
    fixed time.  Returns {(workload, alloc): instructions}."""
    vg = shutil.which("valgrind")
    if not vg:
        notes.append("instructions not counted: valgrind not installed.")
        return {}
    res = {}
    for wname, _, argv, wenv in timed(works):
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


def measure(cfg, tmp):
    """The whole run, in the order the log shows it."""
    res = Results()
    runner_bin = os.path.join(cfg.bin_dir, "runner")
    res.allocs = choose_allocs(cfg.repo, runner_bin, os.path.join(cfg.bin_dir, "probe"), tmp,
                               res.notes, res.broken)
    if not res.allocs:
        sys.exit("bench: no allocator to run")
    res.works = choose_workloads(cfg.repo, cfg.bin_dir, cfg.scale)
    log("bench: %d workload(s) x %s, %d run(s), scale %g%s"
        % (len(res.works), ", ".join(res.names), cfg.runs, cfg.scale, " (quick)" if cfg.quick else ""))

    runner = Runner(runner_bin, cfg.timeout, tmp)
    run_timed(res, runner, cfg.runs)
    run_peaks(res, runner, cfg.peak_runs, cfg.bin_dir)
    check_checksums(res)
    if cfg.do_fast:
        res.fast = run_fastpath(res.allocs, os.path.join(cfg.bin_dir, "fastpath"), tmp, res.notes)
    if cfg.do_instr:
        res.instr = run_instr(res.allocs, res.works, cfg.instr_scale, res.notes)
    return res


CSV_INTS = ("maxrss_kb", "peak_kb", "peak_anon_kb", "final_rss_kb", "trimmed_rss_kb", "live_kb")
CSV_FLOATS = ("wall", "user", "sys")


def csv_row(row):
    return {k: (None if v == "" else int(v) if k in CSV_INTS else float(v) if k in CSV_FLOATS else v)
            for k, v in row.items()}


def load_runs(path):
    """The runs of an earlier bench read back from its latest.csv, for
    --render-only, with how many timed and peak repetitions it made.  The
    CSV does not keep the instruction and fast-path counts, the allocators'
    versions, the notes, or whether the peaks came from random layouts
    (taken as fixed phases)."""
    res = Results()
    workloads, allocs, reps, peak_reps = set(), set(), set(), set()
    with open(path, newline="") as f:
        for r in map(csv_row, csv.DictReader(f)):
            w, a = r["workload"], r["alloc"]
            workloads.add(w)
            if r["rep"].startswith("peak"):
                peak_reps.add(r["rep"])
                res.peaks.setdefault((w, a), []).append(r["peak_kb"])
                res.anon_peaks.setdefault((w, a), []).append(r["peak_anon_kb"])
                res.raw.append(r)
                continue
            allocs.add(a)
            r["rep"] = int(r["rep"])
            reps.add(r["rep"])
            res.raw.append(r)
            if r["status"] != "0":
                res.dead[(w, a)] = "exit %s" % r["status"] if r["status"].isdigit() else r["status"]
            else:
                res.cell.setdefault((w, a), []).append(r)
    res.works = [(n, d, [], None) for n, d in WORKLOADS if n in workloads]
    res.allocs = [(a, None, "re-rendered from the CSV") for a in ALLOC_ORDER if a in allocs]
    res.notes.append("rendered by `harness.py --render-only` from %s: no instruction or fast-path "
                     "counts, allocator versions or notes of the run (they are not in the CSV)" % path)
    check_checksums(res)
    return res, len(reps), len(peak_reps)


def csv_info(path):
    """machine_info() for --render-only, dated by the CSV's modification
    time, so that rendering the same CSV twice gives the same files."""
    info = machine_info()
    mtime = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
    info["date"] = utc_minute(mtime)
    info["load"] = "n/a"
    return info
