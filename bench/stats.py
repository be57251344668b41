"""Statistics of the runs: per-cell medians and spreads, the exact peaks'
summary, paired ratios to glibc and geometric means.  A cell is a
(workload, allocator) pair; its summary is a dict of metric -> value."""
import math
import statistics

from common import FLOOR, MEMORY_ONLY


def mean(xs):
    xs = [x for x in xs if x is not None]
    return statistics.mean(xs) if xs else None


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def spread(xs):
    """Median absolute deviation over the median (0 with too few runs to
    tell)."""
    m = median(xs)
    return median([abs(x - m) for x in xs]) / m if len(xs) > 2 and m else 0.0


def ratio(med, w, a, key):
    """Cell (w, a)'s metric key over glibc's on the same workload."""
    g, x = med.get((w, "glibc")), med.get((w, a))
    if not g or not x or not g.get(key) or x.get(key) is None:
        return None
    return x[key] / g[key]


def cell_summary(rs, peaks, anon_peaks, peak_of, any_peaks):
    """A cell's medians over its timed runs rs; its peaks summarised by
    peak_of, or ru_maxrss medians when no exact peak was measured at all."""
    walls = [r["wall"] for r in rs]
    return {
        "wall": median(walls),
        "best": min(walls),
        "spread": spread(walls),
        "maxrss_kb": median([r["maxrss_kb"] for r in rs]),
        "peak_kb": (peak_of(peaks) if any_peaks
                    else median([r["maxrss_kb"] for r in rs])),
        "peak_anon_kb": peak_of(anon_peaks),
        "final_rss_kb": median([r["final_rss_kb"] for r in rs]),
        "trimmed_rss_kb": median([r.get("trimmed_rss_kb") for r in rs]),   # not in older CSVs
        "live_kb": median([r["live_kb"] for r in rs]),
        "n": len(rs),
    }


def add_paired(med, cell, dead):
    """Paired ratios: each run over glibc's run of the same workload in the
    same repetition (seconds apart, so slow drifts in the machine's load
    cancel); the median over the repetitions, and the lowest and highest."""
    for (w, a), m in med.items():
        g = {r["rep"]: r["wall"] for r in cell.get((w, "glibc"), [])}
        rs = sorted(r["wall"] / g[r["rep"]] for r in cell[(w, a)] if g.get(r["rep"]))
        if rs and (w, "glibc") not in dead:
            m["paired"] = (median(rs), rs[0], rs[-1])


def summarize(res):
    """{(workload, alloc): summary} for every live cell, and the preload
    floor's peaks.  The exact peaks are the mean over the layout phases
    (their expectation), or the median when they came from random layouts."""
    peak_of = mean if res.phased else median
    med = {}
    for (w, a), rs in res.cell.items():
        if (w, a) in res.dead:
            continue
        med[(w, a)] = cell_summary(rs, res.peaks.get((w, a), []), res.anon_peaks.get((w, a), []),
                                   peak_of, bool(res.peaks))
    add_paired(med, res.cell, res.dead)
    for (w, a), ks in res.peaks.items():
        if a == FLOOR:
            med[(w, a)] = {"peak_kb": peak_of(ks), "peak_anon_kb": peak_of(res.anon_peaks[(w, a)]), "n": 0}
    return med


def paired_geomean(med, works, a):
    """Geometric mean of a's paired medians, and over how many workloads."""
    ps = [med[(w, a)]["paired"][0] for w, _, _, _ in works if med.get((w, a), {}).get("paired")]
    return geomean(ps), len(ps)


def noisy_cells(med, threshold=0.05):
    """(spread, workload, alloc) of the timed cells whose spread is above
    threshold, the noisiest first."""
    return sorted(((m["spread"], w, a) for (w, a), m in med.items()
                   if w not in MEMORY_ONLY and m["n"] > 2 and m["spread"] > threshold), reverse=True)
