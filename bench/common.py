"""Names and formats shared by the harness's modules: the run log and the
report print times and sizes the same way."""

ALLOC_ORDER = ["ptalloc", "glibc", "jemalloc", "tcmalloc", "mimalloc"]
LAYOUT_PHASES = 16         # runner -pK: K = 0..15
FLOOR = "empty preload"    # the peak tables' reference column (bench/empty.c)

# Workloads whose instruction count depends on scheduling (spin-waits).
INSTR_SKIP = {"prodcons", "prodcons_pinned"}

# Workloads that measure memory only: their wall time is mostly a fixed
# wait (memreturn sleeps through 1 s of light activity), so they stay out
# of the time tables, the chart, the time geomeans and the instruction
# counts (the work done in a fixed time depends on the machine); the peak
# RSS tables show them.
MEMORY_ONLY = {"memreturn"}


def timed(works):
    """The workloads of works (Results.works entries) whose time counts."""
    return [wk for wk in works if wk[0] not in MEMORY_ONLY]


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
