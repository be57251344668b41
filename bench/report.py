"""The report: results/latest.md, one table per metric with workloads as
rows and allocators as columns, and results/latest.csv, every raw run."""
import csv

from common import FLOOR, INSTR_SKIP, LAYOUT_PHASES, MEMORY_ONLY, fmt_kib, fmt_mib, fmt_time, timed
from stats import geomean, noisy_cells, paired_geomean, ratio

CSV_COLS = ["rep", "workload", "alloc", "status", "wall", "user", "sys", "maxrss_kb",
            "peak_kb", "peak_anon_kb", "final_rss_kb", "trimmed_rss_kb", "live_kb", "checksum"]

# Rows under a workload's own in the peak RSS table: (metric, label), where
# {live} becomes "; <the live size the workload printed> live".  They stay
# out of the table's geomean, which is over the peaks.
RSS_ROWS = {
    "frag": [("final_rss_kb", "frag (final RSS{live})")],
    "memreturn": [("final_rss_kb", "memreturn (resident after the frees and 1 s of light activity{live})"),
                  ("trimmed_rss_kb", "memreturn after malloc_trim(0)")],
}


def write_csv(path, raw):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLS)
        for r in raw:
            w.writerow(["" if r.get(c) is None else r.get(c) for c in CSV_COLS])


def fmt_ratio(r, places=2):
    return "" if r is None else " (%.*f×)" % (places, r)


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


def header_row(cols, first="workload"):
    return ["| %s | " % first + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]


class Markdown:
    """latest.md, built section by section into self.lines."""

    def __init__(self, res, med):
        self.works = res.works
        self.timed = timed(res.works)       # the time tables' rows
        self.names = res.names
        self.dead = res.dead
        self.med = med
        self.has_glibc = "glibc" in self.names
        self.lines = []

    def add(self, *lines):
        self.lines.extend(lines)

    def cell_text(self, w, a, key, fmt, places=2):
        if (w, a) in self.dead:
            return "**FAIL** (%s)" % self.dead[(w, a)]
        m = self.med.get((w, a))
        if not m or m.get(key) is None:
            return "–"
        r = ratio(self.med, w, a, key) if self.has_glibc and a != "glibc" else None
        return fmt(m[key]) + fmt_ratio(r, places)

    def table(self, key, fmt, places=2, more_rows=None, cols=None, works=None):
        """A row per workload of works (default: all) and more_rows(w,
        cols)'s after it, then the geomean."""
        cols = self.names if cols is None else cols
        works = self.works if works is None else works
        self.add(*header_row(cols))
        for w, _, _, _ in works:
            self.add("| %s | " % w + " | ".join(self.cell_text(w, a, key, fmt, places) for a in cols) + " |")
            if more_rows:
                self.add(*more_rows(w, cols))
        if self.has_glibc:
            self.add(geomean_row(works, cols, self.med, key, places))
        self.add("")

    def header(self, res, cfg, info, elapsed):
        self.add("# ptalloc benchmark results", "")
        if cfg.quick:
            self.add("> **Quick smoke run** (BENCH_QUICK=1: scale %g, %d run): the numbers only show the "
                     "format; run `make bench` for real ones." % (cfg.scale, cfg.runs), "")
        self.add("- date: %s; harness time %.0f s; load average %s" % (info["date"], elapsed, info["load"]))
        self.add("- machine: %s × %s, %s RAM; kernel %s; %s"
                 % (info["nproc"], info["cpu"], info["mem"], info["kernel"], info["glibc"]))
        self.add("- method: %d run(s) per cell, median; allocators interleaved round-robin per repetition; "
                 "workload scale %g; wall time of the child (bench/runner.c); peak RSS exact, from %d "
                 "more run(s) per cell traced by `runner -pK`, run k in address layout phase k mod %d"
                 % (cfg.runs, cfg.scale, cfg.peak_runs, LAYOUT_PHASES))
        self.add("- allocators:")
        for a, _, desc in res.allocs:
            self.add("  - **%s**: %s" % (a, desc))
        for n in res.notes:
            self.add("- " + n)
        self.add("")

    def wall_section(self, runs):
        untimed = [w for w, _, _, _ in self.works if w in MEMORY_ONLY]
        self.add("## Wall time", "",
                 "Median wall time; in parentheses the ratio to glibc (< 1 = faster than glibc)."
                 + (" The memory-only workloads (%s: their time is mostly a fixed wait) are not here "
                    "but under Peak RSS." % ", ".join(untimed) if untimed else ""), "")
        if not self.timed:
            self.add("No timed workload in this run.", "")
            return
        self.table("wall", fmt_time, works=self.timed)
        if runs > 1:
            self.add("### Fastest run", "",
                     "The fastest of the %d runs of each cell: other load on the machine only ever adds "
                     "time, so this is the run it disturbed least." % runs, "")
            self.table("best", fmt_time, works=self.timed)
            if self.has_glibc:
                self.paired_table(runs)

    def paired_table(self, runs):
        others = [a for a in self.names if a != "glibc"]
        self.add("### Paired ratio to glibc", "",
                 "Each run's wall time over glibc's run of the same workload in the same repetition "
                 "(the two ran seconds apart, so slow changes in the machine's load cancel out): the "
                 "median over the %d repetitions, and in brackets the lowest and highest." % runs, "")
        self.add(*header_row(others))
        for w, _, _, _ in self.timed:
            cells = []
            for a in others:
                pr = self.med.get((w, a), {}).get("paired")
                cells.append("**FAIL** (%s)" % self.dead[(w, a)] if (w, a) in self.dead else
                             "%.2f× [%.2f–%.2f]" % pr if pr else "–")
            self.add("| %s | " % w + " | ".join(cells) + " |")
        gm = []
        for a in others:
            g, n = paired_geomean(self.med, self.timed, a)
            gm.append("**%.2f×**" % g + ("" if n == len(self.timed)
                                         else " (%d of %d workloads)" % (n, len(self.timed)))
                      if n else "–")
        self.add("| **geomean of medians** | " + " | ".join(gm) + " |", "")

    def rss_rows(self, w, cols):
        """Workload w's RSS_ROWS in the peak RSS table."""
        live = [m["live_kb"] for (ww, _), m in self.med.items() if ww == w and m.get("live_kb") is not None]
        live_text = "; %s live" % fmt_mib(live[0]) if live else ""
        return ["| %s | " % label.format(live=live_text)
                + " | ".join(self.cell_text(w, a, key, fmt_kib, 3) for a in cols) + " |"
                for key, label in RSS_ROWS.get(w, [])]

    def peak_section(self):
        # the peak tables' last column: the preload floor, when measured
        peak_cols = self.names + [FLOOR] if any(a == FLOOR for _, a in self.med) else self.names
        self.add("## Peak RSS", "")
        self.add("Exact peak resident set in KiB, the mean over the address layout phases (`runner -pK`: "
                 "the largest `smaps_rollup` Rss at the entry of every call that can shrink it and at "
                 "exit, with randomisation off and the shared libraries shifted by K pages, K = 0..15, "
                 "which is every way libc's pages can fall in the kernel's 64 KiB fault-around windows; "
                 "ru_maxrss, which the kernel counts in per-CPU batches, can be ~128 KiB a CPU short, "
                 "and is in latest.csv); in parentheses the ratio to glibc, to three places."
                 + (" `frag (final RSS)` is the resident set at the end of frag, when only a thin scattered "
                    "set of blocks is still live (their size is in the row's label)."
                    if any(w == "frag" for w, _, _, _ in self.works) else "")
                 + (" The memreturn rows are its resident set after it has freed 98% of 400k small blocks "
                    "(every 50th kept, so the survivors are spread through the heap) and then done 1 s of "
                    "light activity, in which an allocator that gives memory back over time can do so; "
                    "then right after malloc_trim(0), which gives glibc's free pages between live blocks "
                    "back (an allocator that does not define malloc_trim reaches glibc's, which has none "
                    "of its memory to give back)."
                    if any(w == "memreturn" for w, _, _, _ in self.works) else "")
                 + (" The rows under a workload's own (final RSS, after malloc_trim) stay out of the "
                    "geomean, which is over the peaks alone."
                    if any(w in RSS_ROWS for w, _, _, _ in self.works) else "")
                 + (" *%s* is glibc's malloc with an empty library preloaded (bench/empty.c): what any "
                    "preloaded allocator pays before its own code and data (one more file mapped, the "
                    "loader's bookkeeping for it, a longer environment)." % FLOOR
                    if peak_cols != self.names else ""))
        self.add("")
        self.table("peak_kb", fmt_kib, 3, self.rss_rows, peak_cols)
        if any(m.get("peak_anon_kb") for m in self.med.values()):
            self.add("### Peak anonymous memory", "")
            self.add("The same runs' peak of the anonymous part of the resident set alone (heap, mappings, "
                     "stacks, and the libraries' written data pages: `smaps_rollup` Anonymous), the memory "
                     "an allocator manages, without the code and read-only pages of libc and of the "
                     "allocator's own library.  It may come at another moment "
                     "than the peak above: a program that keeps its heap to the end peaks there, after "
                     "printf and exit have faulted in more of libc.")
            self.add("")
            self.table("peak_anon_kb", fmt_kib, 3, cols=peak_cols)

    def instr_row(self, instr, w):
        """Workload w's cells of the instruction table, and its ratios to
        glibc (glibc's own included) for the geomean."""
        cells, ratios = [], {}
        g = instr.get((w, "glibc"))
        for a in self.names:
            v = instr.get((w, a))
            if v is None:
                cells.append("–")
                continue
            r = v / g if g and a != "glibc" else None
            if g:
                ratios[a] = v / g
            cells.append("%.1fM%s" % (v / 1e6, fmt_ratio(r)))
        return cells, ratios

    def instr_section(self, instr, instr_scale):
        self.add("## Instructions (whole program)", "")
        if not instr:
            self.add("Not measured in this run (BENCH_INSTR=0, or a quick run).", "")
            return
        self.add("Every instruction the workload process executed, allocator and program together, "
                 "under `valgrind --tool=callgrind` at scale %g (one run: the count does not depend on "
                 "the machine's load); in parentheses the ratio to glibc.  Threads run one at a time "
                 "under valgrind; %s left out (its spin-waits make the count depend on scheduling), and "
                 "so are the memory-only workloads (%s: they work for a fixed time)."
                 % (instr_scale, ", ".join(sorted(INSTR_SKIP)), ", ".join(sorted(MEMORY_ONLY))), "")
        self.add(*header_row(self.names))
        ratios = {a: [] for a in self.names}
        for w, _, _, _ in self.timed:
            if w in INSTR_SKIP:
                continue
            cells, rs = self.instr_row(instr, w)
            for a, r in rs.items():
                ratios[a].append(r)
            self.add("| %s | %s |" % (w, " | ".join(cells)))
        if self.has_glibc:
            self.add("| **geomean of ratios** | " + " | ".join(
                "**%.2f×**" % geomean(ratios[a]) if ratios[a] else "–" for a in self.names) + " |")
        self.add("")

    def fastpath_section(self, fast):
        self.add("## Fast path: instructions per malloc(32)+free pair", "")
        if not fast:
            self.add("Not measured in this run.", "")
            return
        self.add("bench/fastpath.c under `valgrind --tool=callgrind`, run with N=100000 and 2N pairs; "
                 "(count(2N) − count(N)) / N cancels startup and exit.  *with the loop* counts every "
                 "instruction; *in malloc+free* leaves out main's own instructions (the loop and the call "
                 "sites, 10 per pair), so it counts malloc, free, whatever they call and the PLT stubs.", "")
        self.add(*header_row(["in malloc+free", "with the loop"], "allocator"))
        for a in self.names:
            if a in fast:
                inside, total = fast[a]
                self.add("| %s | %s | %.1f |" % (a, "%.1f" % inside if inside else "n/a", total))
        self.add("")

    def workloads_section(self, scale):
        self.add("## Workloads", "",
                 "Counts are those at scale 1 (this run: scale %g); sources in bench/workloads/." % scale, "")
        for w, desc, _, _ in self.works:
            self.add("- **%s**: %s" % (w, desc))
        self.add("")
        self.add("Every workload prints a checksum of the data it handled; a run whose checksum differs from "
                 "glibc's is shown as FAIL (wrong checksum).  Raw runs: `latest.csv`; chart: `latest.svg`.")
        noisy = noisy_cells(self.med)
        if noisy:
            self.add("", "Noisy cells (median absolute deviation of the wall times above 5%% of the median; "
                     "other processes on the machine show up here): %s."
                     % ", ".join("%s/%s %.0f%%" % (w, a, s * 100) for s, w, a in noisy[:10]))
        self.add("")


def render_md(res, med, cfg, info, elapsed):
    """latest.md: one table per metric, workloads as rows, allocators as columns."""
    md = Markdown(res, med)
    md.header(res, cfg, info, elapsed)
    md.wall_section(cfg.runs)
    md.peak_section()
    md.instr_section(res.instr, cfg.instr_scale)
    md.fastpath_section(res.fast)
    md.workloads_section(cfg.scale)
    return "\n".join(md.lines)
