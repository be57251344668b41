#!/usr/bin/env bash
# Builds the libFuzzer target (tests/fuzz/fuzz_alloc.c with every src/*.c,
# one executable, so the fuzzer itself runs on ptalloc) and runs it.
#
#   tests/fuzz/run.sh SECONDS    build if needed, fuzz for SECONDS (make fuzz)
#   tests/fuzz/run.sh --build    build only
#
# The run starts from a copy of tests/fuzz/corpus in a temporary directory,
# so the corpus in the tree does not grow.  Prints
#   fuzz: N executions in S s, C crashes
# and exits non-zero on any crash (or when nothing was executed).  Crash
# reproducers are kept in build/fuzz/artifacts/, the full log in
# build/fuzz/last-run.log.  Replay a reproducer with
#   PTALLOC_FUZZ_TRACE=1 build/fuzz/fuzz_alloc FILE
# (the trace lists its operations).
# Environment: CLANG (default clang-14, else clang), FUZZ_ARGS (more
# libFuzzer flags).
set -u
cd "$(dirname "$0")/../.."

[ $# -eq 0 ] && set -- 60

out=build/fuzz
bin=$out/fuzz_alloc
mkdir -p "$out"

CLANG=${CLANG:-}
if [ -z "$CLANG" ]; then
    for c in clang-14 clang; do
        command -v "$c" >/dev/null 2>&1 && { CLANG=$c; break; }
    done
fi
if [ -z "$CLANG" ] || ! command -v "$CLANG" >/dev/null 2>&1; then
    echo "fuzz: clang is not installed (tools/deps.sh fuzz installs it); cannot build the fuzzer" >&2
    exit 1
fi

# The library's own flags (Makefile BASE), its debug asserts, and the
# fuzzer's instrumentation.  No AddressSanitizer: it would replace malloc.
CFLAGS=(-std=gnu11 -g -O2 -Iinclude -Isrc -DPTALLOC_DEBUG=1 -fvisibility=hidden
        -ftls-model=initial-exec -fno-builtin-malloc -fno-builtin-free
        -fno-builtin-calloc -fno-builtin-realloc -fno-stack-protector
        -fno-strict-aliasing -Wall -Wextra -Wshadow -Wno-unused-parameter)
# The target itself is compiled with -fno-builtin: clang otherwise knows
# valloc, memalign & co. as library functions that write no memory of the
# program, errno included, and folds the errno checks away.
TARGET_CFLAGS=(-fno-builtin)
UBSAN=(-fsanitize=undefined -fno-sanitize-recover=all -fno-sanitize=alignment)
# src/free.c and src/malloc.c step back to the previous chunk with
# chunk_at(p, -prevsize): a pointer plus a wrapped-around size_t, which
# UBSan's pointer-overflow check reports on the first backward merge.
# Leave that check out while the idiom is there.
grep -q 'chunk_at([a-z]*, *-' src/*.c && UBSAN+=(-fno-sanitize=pointer-overflow)
srcs=(src/*.c)
# The heap check and walk (check.c, walk.c) run all the time and are not
# what is being fuzzed: no coverage feedback from them (it took half the
# run time).
printf 'src:*/check.c\nsrc:*/walk.c\n' > "$out/coverage-ignore.txt"

stale=0
[ -x "$bin" ] || stale=1
if [ $stale -eq 0 ]; then
    for f in src/*.c src/*.h include/ptalloc.h tests/fuzz/fuzz_alloc.c tests/fuzz/run.sh; do
        [ "$f" -nt "$bin" ] && { stale=1; break; }
    done
fi
if [ $stale -eq 1 ]; then
    echo "fuzz: building $bin with $CLANG"
    build() {   # extra flags...
        "$CLANG" "${CFLAGS[@]}" "${TARGET_CFLAGS[@]}" -fsanitize=fuzzer "$@" \
            -c tests/fuzz/fuzz_alloc.c -o "$out/fuzz_alloc.o" &&
        "$CLANG" "${CFLAGS[@]}" -fsanitize=fuzzer "$@" \
            -fsanitize-coverage-ignorelist="$out/coverage-ignore.txt" \
            "${srcs[@]}" "$out/fuzz_alloc.o" -o "$bin.tmp"
    }
    if ! build "${UBSAN[@]}" 2>"$out/build.log"; then
        # Without UBSan, if its runtime is what is missing.
        if build 2>"$out/build-noubsan.log"; then
            echo "fuzz: note: built without -fsanitize=undefined (see $out/build.log)"
        else
            cat "$out/build.log" >&2
            if grep -qiE "fuzzer|libclang_rt" "$out/build.log"; then
                echo "fuzz: $CLANG cannot link libFuzzer (-fsanitize=fuzzer): install clang's runtime (libclang-rt-14-dev)" >&2
            else
                echo "fuzz: building the fuzzer failed" >&2
            fi
            rm -f "$bin.tmp"
            exit 1
        fi
    fi
    [ -s "$out/build.log" ] && grep -q "warning:" "$out/build.log" && cat "$out/build.log" >&2
    mv -f "$bin.tmp" "$bin"
fi
[ "$1" = "--build" ] && exit 0

secs=$1
case $secs in ''|*[!0-9]*) echo "usage: $0 SECONDS | --build" >&2; exit 2 ;; esac

tmp=$(mktemp -d /tmp/ptalloc-fuzz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/corpus" "$out/artifacts"
cp tests/fuzz/corpus/* "$tmp/corpus/" 2>/dev/null || true
before=$(ls "$out/artifacts" | wc -l)

log=$out/last-run.log
unset LD_PRELOAD
export PTALLOC_FUZZ_LAST_INPUT=$tmp/last-input
t0=$SECONDS
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# (The subshell keeps bash's "Aborted" notice out of the output.)
( timeout -k 10 $((secs + 120)) "$bin" "$tmp/corpus" \
    -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="$out/artifacts/" ${FUZZ_ARGS:-} >"$log" 2>&1; exit $? ) 2>/dev/null
rc=$?
took=$((SECONDS - t0))

execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
# After a crash there are no final stats: the last status line has the count.
[ -z "$execs" ] && execs=$(sed -n 's/^#\([0-9][0-9]*\)[[:space:]].*/\1/p' "$log" | tail -n 1)
after=$(ls "$out/artifacts" | wc -l)
crashes=$((after - before))
if [ $rc -ne 0 ] && [ $crashes -eq 0 ]; then
    # libFuzzer could not save the input (its crash handler allocates, and
    # the heap may be what is broken): keep the one the target wrote.
    crashes=1
    [ -s "$tmp/last-input" ] &&
        cp "$tmp/last-input" "$out/artifacts/crash-unsaved-$(date +%Y%m%d-%H%M%S)-$$"
fi
echo "fuzz: ${execs:-0} executions in $took s, $crashes crashes"

if [ $rc -ne 0 ] || [ $crashes -ne 0 ]; then
    echo "fuzz: FAILED (exit $rc); log: $log" >&2
    echo "--- end of the log" >&2
    grep -vE '^(#[0-9]|INFO:|[[:space:]]+NEW_FUNC)' "$log" | tail -n 40 >&2
    ls -t "$out/artifacts" | head -n "$crashes" | sed "s|^|fuzz: reproducer: $out/artifacts/|" >&2
    exit 1
fi
if [ "${execs:-0}" -le 0 ]; then
    echo "fuzz: no input was executed; log: $log" >&2
    exit 1
fi
exit 0
