# Shared helpers for tests/programs/*.sh. Sourced, never run on its own
# (tests/TESTS lists it as a helper, not a test).
#
# Each program test runs a real program twice, once on glibc's malloc and
# once with $PTALLOC_LIB preloaded, and compares what the two runs print.
# LD_PRELOAD is only ever set per command (see `pre`), never exported.
#
# Environment (set by tests/run.sh):
#   PTALLOC_LIB      absolute path of the libptalloc.so to preload (required)
#   PTALLOC_VARIANT  release | debug | ubsan (debug and ubsan get a smaller
#                    workload, their library is slower)
#   BUILD            build directory (not needed here)
set -euo pipefail

: "${PTALLOC_LIB:?PTALLOC_LIB must name the library to preload}"
PTALLOC_VARIANT=${PTALLOC_VARIANT:-release}
[ -f "$PTALLOC_LIB" ] || { echo "no such library: $PTALLOC_LIB" >&2; exit 2; }
case $PTALLOC_LIB in /*) ;; *) PTALLOC_LIB=$PWD/$PTALLOC_LIB ;; esac

# QUICK=1 for the slower instrumented variants.
QUICK=0
case $PTALLOC_VARIANT in debug|ubsan) QUICK=1 ;; esac

PROG_NAME=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/ptalloc-$PROG_NAME.XXXXXX")
trap 'rm -rf "$T"' EXIT
# Children inherit TMPDIR, so temp files of the programs stay inside $T.
export TMPDIR=$T
# Stable output: no locale-dependent sorting or messages.
export LC_ALL=C TZ=UTC

NFAIL=0
NCHECK=0
T_START=$SECONDS

need() {   # need cmd...: skip-free check that the programs exist
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || { echo "FAIL: $c not installed (tools/deps.sh test)" >&2; exit 1; }
    done
}

# glibc SECS cmd...   run on glibc's malloc, with a timeout
# pre   SECS cmd...   run with $PTALLOC_LIB preloaded (the program and all the
#                     processes it starts), with a timeout
# Both return the program's exit status (124 on timeout).
glibc() { local s=$1; shift; timeout -k 10 "$s" "$@"; }
pre()   { local s=$1; shift; timeout -k 10 "$s" env LD_PRELOAD="$PTALLOC_LIB" "$@"; }

# Make sure the dynamic loader really preloads the library (ld.so only warns
# and carries on when it cannot).
check_preload() {
    local real maps
    real=$(readlink -f "$PTALLOC_LIB")
    maps=$(pre 20 cat /proc/self/maps 2>"$T/preload.err") || true
    if ! grep -qF "$real" <<<"$maps"; then
        echo "FAIL: $PTALLOC_LIB is not mapped in a preloaded process" >&2
        cat "$T/preload.err" >&2
        exit 1
    fi
}

ok()   { NCHECK=$((NCHECK + 1)); printf '  ok    %s\n' "$*"; }
bad()  { NCHECK=$((NCHECK + 1)); NFAIL=$((NFAIL + 1)); printf '  FAIL  %s\n' "$*"; }

# same LABEL REF OUT: the two files must be identical; on a difference print
# the start of a unified diff.
same() {
    local label=$1 ref=$2 out=$3
    if cmp -s "$ref" "$out"; then
        ok "$label ($(wc -l <"$ref") lines identical)"
    else
        bad "$label: output differs from glibc"
        # (sed, not head: no SIGPIPE for diff under pipefail)
        diff -u --label "glibc/$label" --label "ptalloc/$label" "$ref" "$out" | sed -n '1,40s/^/        /p' || true
    fi
}

# status LABEL REF_RC RC [WANT]: the preloaded run must exit like the glibc
# run, and the glibc run with WANT (default 0; otherwise the test setup is
# broken, which also fails).
status() {
    local label=$1 r=$2 p=$3 want=${4:-0}
    if [ "$r" -ne "$want" ]; then
        bad "$label: the reference run on glibc exited $r, not $want$( [ "$r" -eq 124 ] && echo ' (timed out)')"
    elif [ "$p" -eq "$r" ]; then
        ok "$label exit status $p"
    else
        bad "$label exit status $p, glibc $r$( [ "$p" -eq 124 ] && echo ' (timed out)')$( [ "$p" -gt 128 ] && [ "$p" -ne 124 ] && echo " (signal $((p - 128)))")"
    fi
}

# show_tail FILE: last lines of a log, after a failure
show_tail() { [ -s "$1" ] && tail -n "${2:-15}" "$1" | sed 's/^/        | /'; return 0; }

# status_logs LABEL REF_RC RC REF_LOG LOG: status, then the log of each run
# that exited wrongly.
status_logs() {
    status "$1" "$2" "$3"
    [ "$2" -eq 0 ] || show_tail "$4"
    [ "$3" -eq "$2" ] || show_tail "$5"
}

# finish: summary line and exit status
finish() {
    printf '%s [%s, %s]: %d checks, %d failed, %ds\n' "$PROG_NAME" "$PTALLOC_VARIANT" \
        "$(basename "$PTALLOC_LIB")" "$NCHECK" "$NFAIL" $((SECONDS - T_START))
    [ "$NFAIL" -eq 0 ]
}

# run_both LABEL SECS FILTER cmd...: run cmd on glibc and preloaded, in the
# current directory; stdout+stderr of each go through FILTER (a shell
# command reading stdin, "cat" for none) into $T/LABEL.glibc / .ptalloc.
# Compares exit statuses and the filtered output.
run_both() {
    local label=$1 secs=$2 filter=$3; shift 3
    local r=0 p=0
    glibc "$secs" "$@" >"$T/$label.raw.glibc" 2>&1 || r=$?
    pre   "$secs" "$@" >"$T/$label.raw.ptalloc" 2>&1 || p=$?
    bash -c "$filter" <"$T/$label.raw.glibc"   >"$T/$label.glibc"
    bash -c "$filter" <"$T/$label.raw.ptalloc" >"$T/$label.ptalloc"
    status "$label" "$r" "$p"
    [ "$r" -eq 0 ] || { echo "        glibc run:"; show_tail "$T/$label.raw.glibc"; }
    [ "$p" -eq "$r" ] || { echo "        preloaded run:"; show_tail "$T/$label.raw.ptalloc"; }
    same "$label" "$T/$label.glibc" "$T/$label.ptalloc"
}
