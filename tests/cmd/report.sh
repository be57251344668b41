#!/usr/bin/env bash
# `ptalloc report` (cmd/report.c) on logs the library writes:
#  1. tests/cmd/leaky.c, a program with known leaks at known lines: the
#     leak section lists exactly those sites, symbolized to function and
#     line, with their bytes and blocks, with one frame per site and with
#     two (the helper's caller below it); the calls counted are the calls
#     it made (less those of a run that makes none: the C library's own);
#  2. the same program under valgrind's leak check and under heaptrack,
#     without ptalloc: the sites they and the report see agree in bytes
#     and blocks (and heaptrack's temporary allocations in number);
#  3. real programs (python3, git): the report runs, counts calls, its
#     tables add up to 100%, peak in use <= peak heap;
#  4. a truncated log, a file that is no log, a missing file: one line on
#     stderr each, exit status 2.
# The library traced is the variant's (PTALLOC_LIB, which `ptalloc trace`
# preloads); report_check.py reads the reports.
set -u
cd "$(dirname "$0")/../.."
cmd=${BUILD:-$PWD/build}/ptalloc
check="python3 tests/cmd/report_check.py"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
[ -x "$cmd" ] || { echo "cmd/report: $cmd missing (make)"; exit 2; }
for tool in cc python3 valgrind heaptrack heaptrack_print git; do
    command -v $tool >/dev/null || { echo "cmd/report: $tool missing (tools/deps.sh test)"; exit 2; }
done
dir=$(mktemp -d /tmp/ptalloc-report.XXXXXX) || exit 2
trap 'rm -rf "$dir"' EXIT

# -O0 keeps each call site one call instruction at its own line;
# -fno-builtin keeps the calls the program makes.
cc -std=gnu11 -O0 -g -fno-builtin-malloc -fno-builtin-free -fno-builtin-calloc -fno-builtin-realloc \
   tests/cmd/leaky.c -o "$dir/leaky" || { echo "cmd/report: cannot build leaky.c"; exit 2; }

trace() {   # log args...
    local log=$1; shift
    "$cmd" trace -o "$log" "$@" 2>"$dir/trace.err" || { fail "ptalloc trace $*:"; cat "$dir/trace.err"; return 1; }
}
report() {  # log out [options]
    local log=$1 out=$2; shift 2
    "$cmd" report "$log" "$@" >"$out" 2>"$dir/report.err" || { fail "ptalloc report $log:"; cat "$dir/report.err"; return 1; }
    [ -s "$dir/report.err" ] && { fail "ptalloc report $log wrote to stderr:"; cat "$dir/report.err"; }
    return 0
}

# ---- 1. known leaks ---------------------------------------------------------
echo "== leaky.c, one frame per site"
trace "$dir/l1.trace" -- "$dir/leaky" "$dir/side1" &&
    report "$dir/l1.trace" "$dir/l1.txt" --top 100 &&
    { $check leaks "$dir/l1.txt" "$dir/side1" 1 || fail "leaks, one frame"; }
echo "== leaky.c, two frames per site"
trace "$dir/l2.trace" --stack 2 -- "$dir/leaky" "$dir/side2" &&
    report "$dir/l2.trace" "$dir/l2.txt" --top 100 &&
    { $check leaks "$dir/l2.txt" "$dir/side2" 2 || fail "leaks, two frames"; }
echo "== calls leaky.c made"
trace "$dir/l0.trace" -- "$dir/leaky" "$dir/side0" none &&
    report "$dir/l0.trace" "$dir/l0.txt" &&
    { $check calls "$dir/l0.txt" "$dir/l1.txt" "$dir/side1" || fail "calls"; }
for r in l1 l2; do
    $check sane "$dir/$r.txt" >/dev/null || fail "$r report does not add up"
done
# Raw addresses: the same rows, unsymbolized.
report "$dir/l1.trace" "$dir/l1raw.txt" --top 100 --no-symbols &&
    ! grep -q 'leaky.c' "$dir/l1raw.txt" &&
    [ "$(sed -n '/^== Leaked/,/^==/p' "$dir/l1raw.txt" | grep -c ' 0x')" -ge 5 ] ||
    fail "--no-symbols: leaky.c named, or fewer than 5 raw sites"

# ---- 2. valgrind and heaptrack -------------------------------------------------
echo "== valgrind"
valgrind -q --leak-check=full --show-leak-kinds=all --xml=yes --xml-file="$dir/vg.xml" \
    "$dir/leaky" "$dir/side-vg" >"$dir/vg.out" 2>&1 || { fail "valgrind:"; cat "$dir/vg.out"; }
cmp -s <(grep -v '^calls' "$dir/side1") <(grep -v '^calls' "$dir/side-vg") || fail "leaky's lines differ under valgrind"
$check valgrind "$dir/l1.txt" "$dir/vg.xml" || fail "valgrind disagrees"
echo "== heaptrack"
if heaptrack -o "$dir/ht" "$dir/leaky" "$dir/side-ht" >"$dir/ht.out" 2>&1; then
    ht=$(ls "$dir"/ht.*z* 2>/dev/null | head -1)
    heaptrack_print -f "$ht" -p 0 -a 0 -T 0 -l 1 >"$dir/ht-leaks.txt" 2>&1 &&
        heaptrack_print -f "$ht" -p 0 -a 0 -T 1 -l 0 >"$dir/ht-temps.txt" 2>&1 &&
        heaptrack_print -f "$ht" -p 0 -a 0 -T 0 -l 0 --flamegraph-cost-type leaked -F "$dir/ht-flame.txt" \
            >/dev/null 2>&1 ||
        fail "heaptrack_print"
    $check heaptrack "$dir/l1.txt" "$dir/ht-leaks.txt" "$dir/ht-temps.txt" "$dir/ht-flame.txt" ||
        fail "heaptrack disagrees"
else
    fail "heaptrack:"; cat "$dir/ht.out"
fi

# ---- 3. real programs -----------------------------------------------------------
echo "== python3"
cat >"$dir/work.py" <<'EOF'
import json
d = {str(i): [i] * (i % 5) for i in range(20000)}
for i in range(0, 20000, 3):
    del d[str(i)]
s = json.dumps(d)
print(len(s) > 0)
EOF
# Python's own small-object allocator hides most calls; malloc shows them.
PYTHONMALLOC=malloc trace "$dir/py.trace" -- /usr/bin/python3 "$dir/work.py" >/dev/null &&
    report "$dir/py.trace" "$dir/py.txt" &&
    { $check sane "$dir/py.txt" || fail "python3 report"; }
trace "$dir/py2.trace" --stack 4 -- /usr/bin/python3 -c 'print(1)' >/dev/null &&
    report "$dir/py2.trace" "$dir/py2.txt" &&
    { $check sane "$dir/py2.txt" || fail "python3 --stack 4 report"; }
echo "== git"
git init -q "$dir/repo" && echo hello >"$dir/repo/a" && git -C "$dir/repo" add a &&
    trace "$dir/git.trace" -- git -C "$dir/repo" status --porcelain >/dev/null &&
    report "$dir/git.trace" "$dir/git.txt" &&
    { $check sane "$dir/git.txt" || fail "git report"; }
grep -q '^  program .*/git, pid' "$dir/git.txt" || fail "git's report does not name git: $(grep program "$dir/git.txt")"

# ---- 4. errors ------------------------------------------------------------------
echo "== errors"
one_line_error() {  # what file
    local what=$1 file=$2
    "$cmd" report "$file" >"$dir/err.out" 2>"$dir/err.err"
    local rc=$?
    if [ $rc -ne 2 ] || [ -s "$dir/err.out" ] || [ "$(wc -l <"$dir/err.err")" -ne 1 ] ||
       ! grep -q "^ptalloc report: $file: " "$dir/err.err"; then
        fail "$what: exit $rc, stdout $(wc -c <"$dir/err.out") bytes, stderr:"; cat "$dir/err.err"
    else
        echo "  $what: $(cat "$dir/err.err")"
    fi
}
# Cut in the middle of the python log's second segment, full of records.
# A cut that falls between two records leaves a valid log that ends
# early (no end record: as if the process had been killed); one inside a
# record is an error.  Of 16 cuts in a row, some are inside records.
size=$(stat -c %s "$dir/py.trace")
if [ "$size" -ge $((4 * 65536)) ]; then
    errors=0
    for k in $(seq 0 15); do
        head -c $((2 * 65536 + 30000 + k)) "$dir/py.trace" >"$dir/cut.trace"
        if "$cmd" report "$dir/cut.trace" >"$dir/cut.out" 2>/dev/null; then
            grep -q '^  complete *no' "$dir/cut.out" || fail "a log cut at +$k read as complete"
            grep -q '^== Live at the end of the log' "$dir/cut.out" || fail "a log cut at +$k speaks of leaks at exit"
        else
            [ $errors -eq 0 ] && one_line_error "truncated log (cut at +$k)" "$dir/cut.trace" >"$dir/first"
            one_line_error "truncated log (cut at +$k)" "$dir/cut.trace" >/dev/null
            errors=$((errors + 1))
        fi
    done
    [ $errors -gt 0 ] || fail "none of 16 cuts in a row was an error"
    cat "$dir/first" 2>/dev/null; echo "  ($errors of 16 cuts were errors, the others valid logs ending early)"
else
    fail "the python log has $size bytes, too few segments to cut one"
fi
one_line_error "not a log" tests/cmd/leaky.c
one_line_error "missing file" "$dir/no-such.trace"
"$cmd" report >/dev/null 2>&1; [ $? -eq 2 ] || fail "no file: not exit 2"
"$cmd" report "$dir/l1.trace" --top 0 >/dev/null 2>&1; [ $? -eq 2 ] || fail "--top 0: not exit 2"

[ $fails -eq 0 ] && echo "cmd/report: all passed"
[ $fails -eq 0 ]
