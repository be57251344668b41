#!/usr/bin/env bash
# ptalloc benchmark suite: builds the workloads into build/bench/ and runs
# them on ptalloc, glibc, jemalloc, tcmalloc and mimalloc (see README.md).
#
#   BENCH_RUNS=9        repetitions (interleaved across allocators); medians
#   BENCH_ALLOCS=...    allocators to run, e.g. "glibc,ptalloc" (default: all)
#   BENCH_FILTER=...    workloads to run: comma-separated names or globs
#   BENCH_QUICK=1       smoke run: tiny scale, 1 run (< 30 s)
#   BENCH_SCALE=x       multiplier on every workload's iteration counts
#   BENCH_FASTPATH=0    skip the callgrind fast-path count
#   BENCH_INSTR=0       skip the whole-program instruction counts (callgrind)
#   BENCH_OUT=dir       where latest.{md,svg,csv} go (default bench/results)
#
# LD_PRELOAD is never set in this script's environment: the runner sets it
# in each measured child only.
set -eu
unset LD_PRELOAD 2>/dev/null || true

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
OUT_BIN="$REPO/build/bench"
CC=${BENCH_CC:-gcc}
CFLAGS="-O2 -pthread -g -Wall -Wextra -Wno-unused-parameter -fno-builtin-malloc -fno-builtin-free -fno-builtin-calloc -fno-builtin-realloc"
mkdir -p "$OUT_BIN"

# name|source|extra flags
TARGETS="
runner|runner.c|
probe|probe.c|-ldl
fastpath|fastpath.c|
pairs|workloads/pairs.c|
batch_small|workloads/batch.c|-DBATCH_SMALL
batch_medium|workloads/batch.c|-DBATCH_MEDIUM
batch_nearmmap|workloads/batch.c|-DBATCH_NEARMMAP
churn|workloads/churn.c|
realloc_grow|workloads/realloc_grow.c|
prodcons|workloads/prodcons.c|
prodcons_pinned|workloads/prodcons.c|-DPINNED
server1|workloads/server.c|-DNTHREADS=1
server2|workloads/server.c|-DNTHREADS=2
server4|workloads/server.c|-DNTHREADS=4
large|workloads/large.c|
frag|workloads/frag.c|
memreturn|workloads/memreturn.c|
libempty.so|empty.c|-shared -fPIC
"

build_one() {   # name src flags: rebuild when the source, the header or this script is newer
    local name=$1 src=$BENCH_DIR/$2 flags=$3 bin=$OUT_BIN/$1
    if [ -x "$bin" ] && [ "$bin" -nt "$src" ] && [ "$bin" -nt "$BENCH_DIR/workloads/common.h" ] \
       && [ "$bin" -nt "$BENCH_DIR/run.sh" ]; then
        return 0
    fi
    # shellcheck disable=SC2086
    $CC $CFLAGS -I"$BENCH_DIR/workloads" "$src" -o "$bin" $flags
}

echo "bench: building workloads into build/bench/"
pids=()
names=()
while IFS='|' read -r name src flags; do
    [ -z "$name" ] && continue
    build_one "$name" "$src" "$flags" &
    pids+=("$!")
    names+=("$name")
done <<< "$TARGETS"
fail=0
for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
        echo "bench: build of ${names[$i]} failed" >&2
        rm -f "$OUT_BIN/${names[$i]}"
        fail=1
    fi
done
[ "$fail" = 0 ] || exit 1

exec python3 "$BENCH_DIR/harness.py" --repo "$REPO" --bin "$OUT_BIN"
