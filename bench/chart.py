"""The chart: results/latest.svg, the wall time of each allocator over
glibc's per workload, as grouped bars on a log scale."""
import math

from common import timed
from stats import geomean, ratio

COLORS = {
    "ptalloc": "#d62728",
    "glibc": "#555555",
    "jemalloc": "#1f77b4",
    "tcmalloc": "#2ca02c",
    "mimalloc": "#9467bd",
}
W_LEFT, W_RIGHT, H_TOP, H_PLOT, H_BOTTOM = 70, 20, 70, 320, 95


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def color(a):
    return COLORS.get(a, "#888")


def chart_values(works, names, med):
    """The bar groups (the timed workloads, then the geomean) and {(group,
    alloc): time ratio to glibc}; no ratios without glibc."""
    others = [a for a in names if a != "glibc"]
    groups = [w for w, _, _, _ in timed(works)]
    if "glibc" not in names or not groups:
        return groups, {}
    vals = {(w, a): ratio(med, w, a, "wall") for w in groups for a in others}
    for a in others:
        vals[("geomean", a)] = geomean([vals[(w, a)] for w in groups])
    return groups + ["geomean"], vals


def log2_range(vals):
    """The axis's powers of two: at least 1/2..2, at most 1/64..64, with a
    margin around the bars."""
    present = [v for v in vals.values() if v]
    lo = min(present + [1.0])
    hi = max(present + [1.0])
    lo_e = math.floor(math.log2(max(lo, 1 / 64)) - 0.15)
    hi_e = math.ceil(math.log2(min(hi, 64)) + 0.15)
    return min(lo_e, -1), max(hi_e, 1)


class Chart:
    def __init__(self, names, groups, vals, runs, quick):
        self.others = [a for a in names if a != "glibc"]
        self.groups, self.vals = groups, vals
        self.lo_e, self.hi_e = log2_range(vals)
        self.nb = max(len(self.others), 1)
        self.bar_w = 13 if self.nb <= 4 else 10
        self.group_w = self.nb * self.bar_w + 18
        self.title = "Wall time relative to glibc (median of %d run%s; lower is faster; log scale)" % (
            runs, "" if runs == 1 else "s")
        if quick:
            self.title += " — QUICK SMOKE RUN"
        width = W_LEFT + W_RIGHT + self.group_w * len(groups) + 10
        self.width = int(max(width, 640, W_LEFT + 8.6 * len(self.title) + 20))
        self.height = H_TOP + H_PLOT + H_BOTTOM
        self.S = []

    def y(self, v):
        e = math.log2(min(max(v, 2.0 ** self.lo_e), 2.0 ** self.hi_e))
        return H_TOP + H_PLOT * (self.hi_e - e) / (self.hi_e - self.lo_e)

    def heading(self, info):
        S = self.S
        S.append('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
                 'font-family="DejaVu Sans, Arial, sans-serif">'
                 % (self.width, self.height, self.width, self.height))
        S.append('<rect width="100%" height="100%" fill="white"/>')
        S.append('<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>' % (W_LEFT, esc(self.title)))
        S.append('<text x="%d" y="40" font-size="11" fill="#444">%s</text>'
                 % (W_LEFT, esc("%s; %s × %s; %s; kernel %s" % (info["date"], info["nproc"], info["cpu"],
                                                                  info["glibc"], info["kernel"]))))
        lx = W_LEFT
        for a in self.others:
            S.append('<rect x="%d" y="50" width="12" height="12" fill="%s"/>' % (lx, color(a)))
            S.append('<text x="%d" y="60" font-size="12">%s</text>' % (lx + 16, esc(a)))
            lx += 24 + 8 * len(a)
        S.append('<line x1="%d" y1="56" x2="%d" y2="56" stroke="black" stroke-width="2"/>' % (lx, lx + 18))
        S.append('<text x="%d" y="60" font-size="12">glibc = 1.0</text>' % (lx + 22))

    def axis(self):
        """A grid line per power of two, 1.0 in black."""
        S = self.S
        x0, x1 = W_LEFT, self.width - W_RIGHT
        for e in range(self.lo_e, self.hi_e + 1):
            v = 2.0 ** e
            yy = self.y(v)
            label = ("%g" % v) if v >= 1 else "1/%d" % round(1 / v)
            S.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s" stroke-width="%s"/>'
                     % (x0, yy, x1, yy, "black" if e == 0 else "#ddd", "1.5" if e == 0 else "1"))
            S.append('<text x="%d" y="%.1f" font-size="11" text-anchor="end">%s×</text>'
                     % (x0 - 6, yy + 4, label))
        S.append('<text x="16" y="%d" font-size="12" transform="rotate(-90 16 %d)" text-anchor="middle">'
                 'time / glibc time</text>' % (H_TOP + H_PLOT // 2, H_TOP + H_PLOT // 2))
        S.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (x0, H_TOP, x0, H_TOP + H_PLOT))

    def bar(self, g, a, bx, dead):
        """One bar growing from 1.0 with its value; ✗ for a failed cell,
        – for one not measured."""
        base = self.y(1.0)
        v = self.vals.get((g, a))
        if v is None:
            failed = (g, a) in dead
            self.S.append('<text x="%.1f" y="%.1f" font-size="9" text-anchor="middle" fill="%s">%s</text>'
                          % (bx + self.bar_w / 2, base - 3, color(a), "✗" if failed else "–"))
            return
        yy = self.y(v)
        top, h = min(yy, base), abs(base - yy)
        self.S.append('<rect x="%.1f" y="%.1f" width="%d" height="%.1f" fill="%s">'
                      '<title>%s %s: %.3f×</title></rect>'
                      % (bx, top, self.bar_w - 2, max(h, 0.8), color(a), esc(g), esc(a), v))
        ty = (yy - 4) if v >= 1 else (yy + 4)
        tx = bx + self.bar_w / 2 + 2
        self.S.append('<text x="%.1f" y="%.1f" font-size="8" transform="rotate(-90 %.1f %.1f)" '
                      'text-anchor="%s" fill="#222">%.2f</text>'
                      % (tx, ty, tx, ty, "start" if v >= 1 else "end", v))

    def bars(self, dead):
        for gi, g in enumerate(self.groups):
            gx = W_LEFT + 10 + gi * self.group_w
            if g == "geomean":
                self.S.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999" stroke-dasharray="3,3"/>'
                              % (gx - 6, H_TOP, gx - 6, H_TOP + H_PLOT))
            for bi, a in enumerate(self.others):
                self.bar(g, a, gx + bi * self.bar_w, dead)
            cx = gx + (self.nb * self.bar_w) / 2
            ly = H_TOP + H_PLOT + 14
            self.S.append('<text x="%.1f" y="%d" font-size="11" text-anchor="end" '
                          'transform="rotate(-35 %.1f %d)"%s>%s</text>'
                          % (cx, ly, cx, ly, ' font-weight="bold"' if g == "geomean" else "", esc(g)))

    def footer(self, dead):
        if any((g, a) in dead for g in self.groups for a in self.others):
            self.S.append('<text x="%d" y="%d" font-size="11" fill="#444">✗ = failed (crash, timeout or wrong '
                          'checksum; see latest.md)</text>' % (W_LEFT, self.height - 8))
        if not self.vals:
            self.S.append('<text x="%d" y="%d" font-size="14">%s</text>'
                          % (W_LEFT + 20, H_TOP + 40, "no timed workload in this run" if not self.groups
                             else "glibc not in this run: no ratios"))
        self.S.append("</svg>")


def render_svg(works, names, med, dead, info, runs, quick):
    """Grouped bars of the time ratio to glibc, log scale, bars grow from 1.0."""
    groups, vals = chart_values(works, names, med)
    chart = Chart(names, groups, vals, runs, quick)
    chart.heading(info)
    chart.axis()
    chart.bars(dead)
    chart.footer(dead)
    return "\n".join(chart.S) + "\n"
