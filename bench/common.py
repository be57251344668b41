"""Names and formats shared by the harness's modules: the run log and the
report print times and sizes the same way."""

ALLOC_ORDER = ["ptalloc", "glibc", "jemalloc", "tcmalloc", "mimalloc"]
LAYOUT_PHASES = 16         # runner -pK: K = 0..15
FLOOR = "empty preload"    # the peak tables' reference column (bench/empty.c)

# Workloads whose instruction count depends on scheduling (spin-waits).
INSTR_SKIP = {"prodcons", "prodcons_pinned"}


def log(msg):
    print(msg, flush=True)


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
