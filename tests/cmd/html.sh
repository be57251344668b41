#!/usr/bin/env bash
# `ptalloc html` (cmd/html.c, the page in cmd/page/), in a browser:
#  1. logs written by the variant's library: trace_scenario with the
#     default options, with one arena and with no tcache; trace_tour, a
#     program that marks a tour; make demo's page (build/demo.html, the
#     notes' eight chapters); a small python3 run; each made a page;
#  2. html_check.py opens them in headless Chromium and compares, at
#     chosen events and at events reached by keys, forwards and back, the
#     page's heap in text, its bins (API and drawing) and program break
#     with `ptalloc show --at N --all`; then the keys, the Tab order, the
#     tour, the page's own arithmetic against the library's bins
#     (html_bins.c) and Python; screenshots in build/tests/html/, and
#     docs/heap.png when it is missing (HTML_DOCS=1 rewrites it; release
#     variant only: its addresses change with every run);
#  3. the command's errors: no log, a missing file, not a log, a truncated
#     log, an unknown flag, an unwritable output, a write that fails half
#     way: exit status 2, one line naming the problem, no page left behind.
# Needs chromium, chromium-driver and python3-selenium (tools/deps.sh test),
# run by Debian's /usr/bin/python3.  HTML_SEED=N repeats a run's random events.
set -u
cd "$(dirname "$0")/../.."
root=$PWD
build=${BUILD:-$root/build}
cmd=$build/ptalloc
lib=${PTALLOC_LIB:-$build/libptalloc.so}
bin=$build/tests/cmd
py=/usr/bin/python3
shots=$build/tests/html
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
[ -x "$cmd" ] || { echo "cmd/html: $cmd missing (make)"; exit 2; }
for p in trace_scenario trace_tour; do
    [ -x "$bin/$p" ] || { echo "cmd/html: $bin/$p missing (make tests)"; exit 2; }
done
for tool in /usr/bin/chromium /usr/bin/chromedriver $py cc; do
    command -v $tool >/dev/null || { echo "cmd/html: $tool missing (tools/deps.sh test)"; exit 2; }
done
$py -c 'import selenium' 2>/dev/null || { echo "cmd/html: python3-selenium missing (tools/deps.sh test)"; exit 2; }
tmp=$(mktemp -d /tmp/ptalloc-html.XXXXXX) || exit 2
trap 'rm -rf "$tmp"' EXIT
t0=$SECONDS

# ---- 1. logs and pages ----------------------------------------------------------
traced() {   # NAME [VAR=VALUE...] -- PROGRAM ARGS...
    local name=$1 env=(); shift
    while [ "$1" != -- ]; do env+=("$1"); shift; done; shift
    env "${env[@]}" PTALLOC_TRACE="$tmp/$name.trace" LD_PRELOAD="$lib" "$@" >"$tmp/$name.out" 2>&1 ||
        { fail "$name: $* exited $?: $(tail -3 "$tmp/$name.out")"; return 1; }
}
page() {     # NAME: the page of NAME's log
    if "$cmd" html "$tmp/$1.trace" -o "$tmp/$1.html" >"$tmp/$1.html.out" 2>"$tmp/$1.html.err" &&
       [ ! -s "$tmp/$1.html.err" ] && [ -s "$tmp/$1.html" ]; then
        echo "  $(cat "$tmp/$1.html.out")"
    else
        fail "ptalloc html $1.trace: $(cat "$tmp/$1.html.err")"; return 1
    fi
}
pages=()
traced scenario -- "$bin/trace_scenario" "$tmp/w1" && page scenario && pages+=("scenario=$tmp/scenario.trace=$tmp/scenario.html")
traced one-arena PTALLOC_ARENA_MAX=1 -- "$bin/trace_scenario" "$tmp/w2" && page one-arena &&
    pages+=("scenario [PTALLOC_ARENA_MAX=1]=$tmp/one-arena.trace=$tmp/one-arena.html")
traced no-tcache PTALLOC_TCACHE_COUNT=0 -- "$bin/trace_scenario" "$tmp/w3" && page no-tcache &&
    pages+=("scenario [PTALLOC_TCACHE_COUNT=0]=$tmp/no-tcache.trace=$tmp/no-tcache.html")
traced tour -- "$bin/trace_tour" && page tour && pages+=("tour=$tmp/tour.trace=$tmp/tour.html")
# make demo's page (the Makefile's tests target writes it): its tour
if [ -s "$root/build/demo.html" ] && [ -s "$root/build/demo.trace" ]; then
    pages+=("demo=$root/build/demo.trace=$root/build/demo.html")
else
    fail "build/demo.html or build/demo.trace missing (make tests writes them)"
fi
traced python -- $py -c 'import json; print(len(json.dumps({str(i): [i] * (i % 7) for i in range(3000)})))' &&
    page python && pages+=("python=$tmp/python.trace=$tmp/python.html")

# ---- 2. in the browser --------------------------------------------------------------
cc -std=gnu11 -O1 -Iinclude tests/cmd/html_bins.c "$build/libptalloc.a" -pthread -o "$tmp/bins" &&
    "$tmp/bins" >"$tmp/bins.txt" || fail "html_bins.c: cannot build or run it"
if [ ${#pages[@]} -gt 0 ] && [ "$(echo "${pages[0]}" | cut -d= -f1)" = scenario ]; then
    rm -f "$shots"/*.png
    # a window of the scenario's log (--from --to): the heap before it, then its events
    wargs=()
    if "$cmd" html "$tmp/scenario.trace" --from 9000 --to 12000 -o "$tmp/window.html" >"$tmp/window.out" 2>&1; then
        wargs=(--window "window=$tmp/scenario.trace=$tmp/window.html=9000:12000")
    else
        fail "ptalloc html --from 9000 --to 12000: $(head -1 "$tmp/window.out")"
    fi
    $py tests/cmd/html_check.py --ptalloc "$cmd" --shots "$shots" --docs "$shots/heap.png" \
        --bins "$tmp/bins.txt" "${wargs[@]}" "${pages[@]}" || fail "the pages in the browser (above)"
    if [ -s "$shots/heap.png" ] && [ "${PTALLOC_VARIANT:-release}" = release ] &&
       { [ ! -e docs/heap.png ] || [ "${HTML_DOCS:-0}" = 1 ]; }; then
        cp "$shots/heap.png" docs/heap.png && echo "  wrote docs/heap.png"
    fi
else
    fail "no page of trace_scenario to open"
fi

# ---- 3. the command's errors ------------------------------------------------------------
one_line_error() {   # WHAT PATTERN OUT ARGS...: exit 2, one line matching PATTERN, OUT not written
    local what=$1 pattern=$2 out=$3; shift 3
    [ -n "$out" ] && rm -f "$out" "$out".*
    "$cmd" html "$@" >"$tmp/err.out" 2>"$tmp/err.err"
    local rc=$?
    if [ $rc -ne 2 ] || [ -s "$tmp/err.out" ] || [ "$(wc -l <"$tmp/err.err")" -ne 1 ] ||
       ! grep -q -e "^ptalloc html: .*$pattern" "$tmp/err.err"; then
        fail "$what: exit $rc, stdout $(wc -c <"$tmp/err.out") bytes, stderr: $(head -3 "$tmp/err.err")"
    elif [ -n "$out" ] && { [ -e "$out" ] || compgen -G "$out.*" >/dev/null; }; then
        fail "$what: $(cat "$tmp/err.err"); but it left $(ls "$out" "$out".* 2>/dev/null | tr '\n' ' ')"
    else
        echo "  $what: $(cat "$tmp/err.err")"
    fi
}
echo "errors:"
log=$tmp/scenario.trace
one_line_error "no log" "no log" ""
one_line_error "missing file" "no-such.trace" "$tmp/e.html" "$tmp/no-such.trace" -o "$tmp/e.html"
one_line_error "--to before --from" "--to 2 is before --from 5" "$tmp/e.html" "$log" --from 5 --to 2 -o "$tmp/e.html"
one_line_error "--from past the end" "--from 999999999: the log has" "$tmp/e.html" "$log" --from 999999999 -o "$tmp/e.html"
one_line_error "--from without a number" "--from needs a number" "$tmp/e.html" "$log" --from
one_line_error "not a log" "trace_tour.c" "$tmp/e.html" tests/cmd/trace_tour.c -o "$tmp/e.html"
one_line_error "unknown flag" "--frobnicate" "$tmp/e.html" --frobnicate "$log" -o "$tmp/e.html"
one_line_error "-o without a file" "-o" "" "$log" -o
one_line_error "two logs" "one log" "$tmp/e.html" "$log" "$log" -o "$tmp/e.html"
one_line_error "unwritable output" "cannot write" "" "$log" -o "$tmp/no/such/dir/e.html"
head -c 40 "$log" >"$tmp/cut.trace"
one_line_error "a log cut in its header" "cut.trace" "$tmp/e.html" "$tmp/cut.trace" -o "$tmp/e.html"
# Cut in the middle of a segment full of records (not at a multiple of
# 65536): a cut between two records is a log that ends early, a page
# that says so; one inside a record is an error.
size=$(stat -c %s "$log" 2>/dev/null || echo 0)
if [ "$size" -ge $((4 * 65536)) ]; then
    errors=0
    for k in $(seq 0 15); do
        head -c $((2 * 65536 + 30001 + k)) "$log" >"$tmp/cut.trace"
        rm -f "$tmp/e.html"
        if "$cmd" html "$tmp/cut.trace" -o "$tmp/e.html" >/dev/null 2>"$tmp/cut.err"; then
            grep -q '"ended":false' "$tmp/e.html" || fail "a log cut at +$k: the page does not say the log ends early"
        else
            [ $errors -eq 0 ] && one_line_error "truncated log (cut at +$k)" "cut.trace" "$tmp/e.html" "$tmp/cut.trace" -o "$tmp/e.html"
            errors=$((errors + 1))
        fi
    done
    [ $errors -gt 0 ] || fail "none of 16 cuts in a row was an error"
    echo "  ($errors of 16 cuts were errors, the others pages of logs that end early)"
else
    fail "the scenario's log has $size bytes, too few segments to cut one"
fi
# A write that fails half way (the file size limit): no half-written page.
( ulimit -f 64; trap '' XFSZ; "$cmd" html "$log" -o "$tmp/half.html" ) >"$tmp/half.out" 2>"$tmp/half.err"
rc=$?
if [ $rc -ne 2 ] || [ "$(wc -l <"$tmp/half.err")" -ne 1 ] || ! grep -q "cannot write" "$tmp/half.err"; then
    fail "a page larger than the file size limit: exit $rc, stderr: $(head -3 "$tmp/half.err")"
elif compgen -G "$tmp/half.html*" >/dev/null; then
    fail "a write that failed half way: $(cat "$tmp/half.err"); but it left $(ls -s "$tmp"/half.html* | tr '\n' ' ')"
else
    echo "  a write that fails half way: $(cat "$tmp/half.err")"
fi
# An error leaves the page that was there as it was.
echo old >"$tmp/keep.html"
"$cmd" html "$tmp/no-such.trace" -o "$tmp/keep.html" >/dev/null 2>&1
[ "$(cat "$tmp/keep.html" 2>/dev/null)" = old ] || fail "a failed run changed the page that was there"

echo "cmd/html: $((SECONDS - t0)) s"
[ $fails -eq 0 ] && echo "cmd/html: all passed"
exit $((fails > 0))
