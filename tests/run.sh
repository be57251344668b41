#!/usr/bin/env bash
# Runs every test on each build variant and prints "N passed, N failed".
#
#   tests/run.sh                   release, debug and UBSan builds
#   tests/run.sh build/debug       one variant (a directory holding libptalloc.so)
#   tests/run.sh --list [VARIANT...]   print "variant test" for what would run
#
# The tests are those listed in tests/TESTS, in its order (see there how
# to add one); TEST_FILTER=str keeps those whose name contains str;
# TEST_GROUPS="api mech" keeps those of the groups named.
# C tests are build/tests/<group>/<name>; each runs with the variant's
# library preloaded (and on LD_LIBRARY_PATH for the linked groups).
# Shell tests are tests/<group>/<name>.sh; they get PTALLOC_LIB (the .so to
# preload), PTALLOC_VARIANT (release, debug or ubsan) and BUILD (build dir).
# A test that runs longer than its timeout has failed.
set -u
cd "$(dirname "$0")/.."
root=$PWD
list=0
[ "${1:-}" = --list ] && { list=1; shift; }
variants=("$@")
[ ${#variants[@]} -eq 0 ] && variants=(build build/debug build/ubsan)
TEST_TIMEOUT=${TEST_TIMEOUT:-600}
filter=${TEST_FILTER:-}
groups=" ${TEST_GROUPS:-} "

# ---- tests/TESTS ----------------------------------------------------------
# A file directly in a test directory that is neither listed nor a helper
# stops the run before any test (exit 2) rather than being reported in
# passing: the point of the list is that a new test cannot be skipped in
# silence, and a warning in the middle of a long run's output, under an
# exit status of 0, is how it would be.
tests=(); declare -A known=()
bad=0
n=0
while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    line=${line%%#*}
    read -r -a w <<<"$line"
    [ ${#w[@]} -eq 0 ] && continue
    if [ "${w[0]}" = helper ] && [ ${#w[@]} -eq 2 ]; then
        f=${w[1]}
    elif [ ${#w[@]} -eq 1 ] && [[ ${w[0]} =~ ^[a-z0-9_-]+/[A-Za-z0-9_.-]+$ ]]; then
        tests+=("${w[0]}")
        f=${w[0]}; [[ $f == *.sh ]] || f=$f.c
    else
        echo "tests/TESTS:$n: not 'group/name', 'group/name.sh' or 'helper group/file': $line"
        bad=1; continue
    fi
    if [ -n "${known[$f]:-}" ]; then
        echo "tests/TESTS:$n: tests/$f is listed twice"; bad=1
    elif [ ! -e "tests/$f" ] || { [[ $f == */ ]] && [ ! -d "tests/$f" ]; }; then
        echo "tests/TESTS:$n: tests/$f does not exist"; bad=1
    fi
    known[$f]=1
done < tests/TESTS
for f in tests/*/*; do
    [ -e "$f" ] || continue                      # an empty group
    f=${f#tests/}
    [ -d "tests/$f" ] && f=$f/
    [[ $f == *~ ]] && continue
    if [ -z "${known[$f]:-}" ]; then
        echo "tests/$f is neither a test nor a helper in tests/TESTS: list it there"
        bad=1
    fi
done
[ $bad -eq 0 ] || { echo "tests/TESTS does not match tests/: no test was run"; exit 2; }

selected=()
for name in "${tests[@]}"; do
    [ -n "$filter" ] && [[ $name != *$filter* ]] && continue
    [ "$groups" != "  " ] && [[ $groups != *" ${name%%/*} "* ]] && continue
    selected+=("$name")
done

vname_of() { if [ "$1" = build ]; then echo release; else basename "$1"; fi; }

if [ $list -eq 1 ]; then
    for vdir in "${variants[@]}"; do
        vname=$(vname_of "$vdir")
        for name in "${selected[@]}"; do echo "$vname $name"; done
    done
    exit 0
fi

pass=0; fail=0; failed=()
log=build/test-logs; mkdir -p "$log"

run_one() {   # variant-dir name cmd...
    local vdir=$1 name=$2; shift 2
    local vname; vname=$(vname_of "$vdir")
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
done
for name in "${selected[@]}"; do
    [[ $name == *.sh ]] || [ -x "build/tests/$name" ] ||
        { echo "missing build/tests/$name (run make tests first)"; exit 2; }
done

for vdir in "${variants[@]}"; do
    for name in "${selected[@]}"; do
        if [[ $name == *.sh ]]; then
            run_one "$vdir" "$name" bash "tests/$name"
        else
            run_one "$vdir" "$name" env LD_PRELOAD="$root/$vdir/libptalloc.so" "build/tests/$name"
        fi
    done
done

if [ $fail -gt 0 ]; then
    echo "failed:"; printf '  %s\n' "${failed[@]}"
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
