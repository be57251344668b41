#!/usr/bin/env bash
# The page of `ptalloc html` against the issue's scale: a log of about a
# million events, opened in headless Chromium HTML_RUNS times (a fresh
# browser each), timing the load and steps.  Writes bench/results/html.md.
#
#   HTML_RUNS=5        browser sessions (default 5)
#   HTML_CALLS=620000  calls of the traced program (about 1.6 events each)
#
# Needs build/ptalloc and build/libptalloc.so (make), Debian's chromium,
# chromium-driver and python3-selenium (tools/deps.sh test installs them).
set -eu
unset LD_PRELOAD 2>/dev/null || true
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
OUT=${BENCH_OUT:-$BENCH_DIR/results}
work=$REPO/build/bench/html
mkdir -p "$work" "$OUT"
for f in "$REPO/build/ptalloc" "$REPO/build/libptalloc.so"; do
    [ -x "$f" ] || [ -f "$f" ] || { echo "bench/html.sh: $f missing (make)" >&2; exit 2; }
done
gcc -O2 -o "$work/html_log" "$BENCH_DIR/html_log.c"
rm -f "$work/log.trace"
PTALLOC_TRACE="$work/log.trace" LD_PRELOAD="$REPO/build/libptalloc.so" "$work/html_log" "${HTML_CALLS:-620000}"
"$REPO/build/ptalloc" html "$work/log.trace" -o "$work/page.html" --no-symbols
/usr/bin/python3 "$BENCH_DIR/html_bench.py" "$work/page.html" "${HTML_RUNS:-5}" | tee "$OUT/html.md"
