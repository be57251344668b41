#!/usr/bin/env bash
# Runs every test on each build variant and prints "N passed, N failed".
#
#   tests/run.sh                   release, debug and UBSan builds
#   tests/run.sh build/debug       one variant (a directory holding libptalloc.so)
#
# C tests are build/tests/<group>/<name>; each runs with the variant's
# library preloaded (and on LD_LIBRARY_PATH for the linked groups).
# Shell tests are tests/<group>/*.sh; they get PTALLOC_LIB (the .so to
# preload), PTALLOC_VARIANT (release, debug or ubsan) and BUILD (build dir).
# A test that runs longer than its timeout has failed.
set -u
cd "$(dirname "$0")/.."
root=$PWD
variants=("$@")
[ ${#variants[@]} -eq 0 ] && variants=(build build/debug build/ubsan)
TEST_TIMEOUT=${TEST_TIMEOUT:-600}
filter=${TEST_FILTER:-}
pass=0; fail=0; failed=()
log=build/test-logs; mkdir -p "$log"

run_one() {   # variant-dir name cmd...
    local vdir=$1 name=$2; shift 2
    local vname; vname=$(basename "$vdir"); [ "$vdir" = build ] && vname=release
    local out="$log/$vname.${name//\//.}.log"
    local t0=$SECONDS
    if env PTALLOC_LIB="$root/$vdir/libptalloc.so" PTALLOC_VARIANT="$vname" BUILD="$root/build" \
           LD_LIBRARY_PATH="$root/$vdir" UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
           timeout -k 10 "$TEST_TIMEOUT" "$@" >"$out" 2>&1; then
        pass=$((pass + 1)); printf 'PASS %-8s %s (%ds)\n' "$vname" "$name" $((SECONDS - t0))
    else
        local rc=$?
        fail=$((fail + 1)); failed+=("$vname/$name")
        printf 'FAIL %-8s %s (exit %d, %ds) — log: %s\n' "$vname" "$name" "$rc" $((SECONDS - t0)) "$out"
        tail -n 20 "$out" | sed 's/^/    | /'
    fi
}

for vdir in "${variants[@]}"; do
    [ -f "$vdir/libptalloc.so" ] || { echo "missing $vdir/libptalloc.so (run make first)"; exit 2; }
    for bin in build/tests/*/*; do
        [ -x "$bin" ] && [ -f "$bin" ] || continue
        name=${bin#build/tests/}
        [ -n "$filter" ] && [[ $name != *$filter* ]] && continue
        run_one "$vdir" "$name" env LD_PRELOAD="$root/$vdir/libptalloc.so" "$bin"
    done
    for sh in tests/*/*.sh; do
        [ -f "$sh" ] || continue
        [ "$(basename "$sh")" = run.sh ] && continue    # drivers, not tests
        name=${sh#tests/}
        [ -n "$filter" ] && [[ $name != *$filter* ]] && continue
        run_one "$vdir" "$name" bash "$sh"
    done
done

if [ $fail -gt 0 ]; then
    echo "failed:"; printf '  %s\n' "${failed[@]}"
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
