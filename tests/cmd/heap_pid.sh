#!/usr/bin/env bash
# `ptalloc heap --pid` (cmd/heap.c): the heap of a running process, read
# from outside while it is stopped.
#  1. tests/cmd/heap_target.c builds a known heap (chunks in use, tcache,
#     mid-size cache, fastbin, unsorted, small and large bin chunks, a second
#     thread in an arena of its own with chunks of every kind, an mmapped
#     chunk), draws it with ptalloc_print_heap and waits.  The command's
#     picture must be the same: every chunk table line for line (a tcache
#     chunk of the target's main thread, thread 0, is "tcache [i]" there
#     as print_heap draws it; another thread's cache and remote batches are
#     "in use" to print_heap), the bin lines of every arena line for line,
#     and the main thread's tcache lines (print_heap draws only the calling
#     thread's cache).  Once with the variant's libptalloc.so preloaded,
#     once linked with libptalloc.a (release run only: the .a is the
#     release build's);
#  2. the target goes on: three frees it then leaves waiting in its remote
#     batch are drawn as such, and after that it allocates, frees, finds
#     every block it filled intact and exits 0;
#  3. --html writes a page (html_write_state) that Chromium opens and that
#     draws the same heap;
#  4. errors, one line on stderr and exit status 2: a process not on
#     ptalloc (sleep), one gone, a thread id, one not permitted (another
#     user's command against root's process), one traced already (by a
#     python3 that seized it), the command itself, a different ptalloc
#     build (copies of the library with another descriptor version and
#     layout), bad options.
# Besides: a heap the target corrupts (a fastbin made a cycle, a size past
# its segment) gives notes and exit status 0, not a loop or a crash.
set -u
cd "$(dirname "$0")/../.."
build=${BUILD:-$PWD/build}
cmd=$build/ptalloc
bin=$build/tests/cmd
lib=${PTALLOC_LIB:-$build/libptalloc.so}
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
for f in "$cmd" "$bin/heap_target" "$bin/heap_target_static"; do
    [ -x "$f" ] || { echo "cmd/heap_pid: $f missing (make tests)"; exit 2; }
done
py=$(command -v /usr/bin/python3 || command -v python3) || { echo "cmd/heap_pid: python3 missing (tools/deps.sh test)"; exit 2; }
tmp=$(mktemp -d /tmp/ptalloc-heap.XXXXXX) || exit 2
chmod 755 "$tmp"
pids=()
cleanup() {
    exec 7>&- 2>/dev/null
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

# ---- what is compared -----------------------------------------------------------

# The chunk tables: headings and rows, the where column as the target's
# main thread (thread 0) sees it.
chunk_rows() {   # FILE
    awk '/^arena [0-9?]+, (segment|sub-heap) [0-9]+/ || /^mmapped chunks$/ { print; next }
         /^  \| +0x[0-9a-f]+ \|/ {
             split($0, f, "|")
             w = f[5]; sub(/^ /, "", w); sub(/ +$/, "", w)
             if (match(w, / t[0-9]+$/)) {
                 t = substr(w, RSTART + 2); w = substr(w, 1, RSTART - 1)
                 if (t != "0") w = "in use"
             } else if (w == "remote") w = "in use"
             printf "  |%s|%s|%s| %-20s |\n", f[2], f[3], f[4], w
         }' "$1"
}

# The bins of each arena under their headings, tcache lines left out.
bin_lines() {    # FILE
    awk '/^bins of arena / { on = 1; print; next }
         /^$/ || /^[^ ]/ { on = 0 }
         on && /^  / && !/^  tcache\[/' "$1"
}

# The tcache lines of print_heap (its caller's cache, under arena 0), or of
# thread 0 in the command's picture.
own_tcache() { awk '/^bins of arena / { on = 1 } /^$/ { on = 0 } on && /^  tcache\[/' "$1"; }
thread0_tcache() { awk '/^tcache of thread 0:/ { on = 1; next } /^$/ || /^[^ ]/ { on = 0 } on && /^  tcache\[/' "$1"; }

same() {         # LABEL WHAT EXPECTED GOT
    if cmp -s "$3" "$4"; then
        echo "$1: $2 the same ($(wc -l < "$3") lines)"
    else
        fail "$1: $2 differ (< print_heap in the target, > ptalloc heap):"
        diff "$3" "$4" | head -20 | sed 's/^/    /'
    fi
}

# ---- a target ---------------------------------------------------------------------

start_target() { # LABEL DIR PROGRAM [VAR=VALUE...]: sets target; fd 7 writes its commands
    local label=$1 d=$2 prog=$3
    shift 3
    mkdir -p "$d" && mkfifo "$d/ctl" || exit 2
    env -u LD_PRELOAD "$@" "$prog" "$d" < "$d/ctl" > "$d/out" 2>&1 &
    target=$!
    pids+=("$target")
    exec 7> "$d/ctl"
    for _ in $(seq 200); do
        [ -s "$d/ready" ] && return 0
        kill -0 "$target" 2>/dev/null || break
        sleep 0.05
    done
    fail "$label: the target did not get ready: $(tail -3 "$d/out")"
    return 1
}

wait_file() {    # FILE
    for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done
    return 1
}

check_target() { # LABEL DIR PROGRAM [VAR=VALUE...]
    local label=$1 d=$2
    start_target "$@" || return
    local p=$target

    # 1. the picture against the target's own
    if ! "$cmd" heap --pid "$p" > "$d/heap.txt" 2> "$d/heap.err"; then
        fail "$label: ptalloc heap --pid failed: $(head -3 "$d/heap.err")"
    else
        [ -s "$d/heap.err" ] && fail "$label: ptalloc heap wrote to stderr: $(head -3 "$d/heap.err")"
        grep -q '^note:' "$d/heap.txt" && fail "$label: notes on a sound heap: $(grep '^note:' "$d/heap.txt" | head -3)"
        grep -q '^2 arenas, 2 threads, 1 mmapped chunk;' "$d/heap.txt" ||
            fail "$label: header: $(sed -n 2p "$d/heap.txt")"
        chunk_rows "$d/own.txt" > "$d/rows.own"
        chunk_rows "$d/heap.txt" > "$d/rows.got"
        same "$label" "chunk tables" "$d/rows.own" "$d/rows.got"
        bin_lines "$d/own.txt" > "$d/bins.own"
        bin_lines "$d/heap.txt" > "$d/bins.got"
        same "$label" "bins" "$d/bins.own" "$d/bins.got"
        own_tcache "$d/own.txt" > "$d/tc.own"
        thread0_tcache "$d/heap.txt" > "$d/tc.got"
        same "$label" "main thread's tcache" "$d/tc.own" "$d/tc.got"
        for f in rows bins tc; do
            [ "$(wc -l < "$d/$f.own")" -ge 4 ] || fail "$label: print_heap drew fewer than 4 $f lines"
        done
        grep -Eq '\| tcache \[[0-9]+\] t1 +\|' "$d/heap.txt" && grep -q '^tcache of thread 1:' "$d/heap.txt" ||
            fail "$label: thread 1's cache is not drawn"
    fi

    # 3. the page (html_write_state, cmd/html.c)
    if [ "$label" = preloaded ]; then
        if "$cmd" heap --pid "$p" --html "$d/page.html" > "$d/html.out" 2> "$d/html.err"; then
            grep -qi '<html' "$d/page.html" || fail "$label: --html: $d/page.html is no HTML page"
            echo "$label: --html wrote a page of $(wc -c < "$d/page.html") bytes"
            # In Chromium: the page's heap in text is the command's picture,
            # from the first arena's table through the bins.
            if r=$(/usr/bin/python3 - "$d/page.html" "$d/heap.txt" 2>&1 <<'EOF'
import sys
from selenium import webdriver
o = webdriver.ChromeOptions()
for a in ('--headless=new', '--no-sandbox', '--disable-gpu'):
    o.add_argument(a)
o.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
d = webdriver.Chrome(options=o)
try:
    d.get('file://' + sys.argv[1])
    err = d.execute_async_script('const cb = arguments[0]; ptallocView.ready.then(() => cb(null), (e) => cb(String(e)));')
    if err:
        sys.exit('the page failed: ' + err)
    text = d.execute_script('return ptallocView.text();')
    want = open(sys.argv[2]).read()
    cut = lambda t: t[t.index('\narena '):]
    if cut(text) != cut(want):
        import difflib
        sys.exit('the page differs from the picture:\n' + ''.join(list(difflib.unified_diff(
            cut(want).splitlines(True), cut(text).splitlines(True), 'ptalloc heap', 'page'))[:20]))
    bad = [l for l in d.get_log('browser') if l['level'] == 'SEVERE']
    if bad:
        sys.exit('console: %s' % bad[0]['message'])
    print('%d lines' % cut(text).count('\n'))
finally:
    d.quit()
EOF
            ); then
                echo "$label: the page in Chromium draws the same heap ($r)"
            else
                fail "$label: --html page in Chromium: $r"
            fi
        else
            fail "$label: html page not implemented yet (ptalloc heap --html: $(head -1 "$d/html.err"))"
        fi
    fi

    # 2. it goes on: a remote batch left waiting, then its end
    echo remote >&7
    if ! wait_file "$d/ready2"; then
        fail "$label: the target did not answer 'remote' after the reading: $(tail -3 "$d/out")"
    elif "$cmd" heap --pid "$p" > "$d/heap2.txt" 2> "$d/heap2.err"; then
        local a n=0
        for a in $(cat "$d/remote.txt"); do
            grep -Eq "^  \| +$a \| +112 \| A-P \| remote +\|" "$d/heap2.txt" && n=$((n + 1))
        done
        [ "$n" -eq 3 ] || fail "$label: $n of the 3 chunks of the remote batch drawn as remote"
        grep -q '^  thread 0: .*, 3 in its remote batch$' "$d/heap2.txt" ||
            fail "$label: thread 0's remote batch not counted: $(grep '^  thread 0:' "$d/heap2.txt")"
        n=$(grep -Ec '\| +112 \| A-P \| tcache \[5\] t0 +\|' "$d/heap2.txt")
        [ "$n" -eq 7 ] || fail "$label: $n, not 7, of arena 1's chunks in thread 0's cache"
        echo "$label: after 'remote': 3 chunks in thread 0's remote batch, 7 in its cache"
    else
        fail "$label: ptalloc heap --pid after 'remote': $(head -3 "$d/heap2.err")"
    fi

    # a corrupted heap: notes, not a loop or a crash
    if [ "$label" = preloaded ]; then
        echo corrupt >&7
        if ! wait_file "$d/ready3"; then
            fail "$label: the target did not answer 'corrupt': $(tail -3 "$d/out")"
        elif "$cmd" heap --pid "$p" > "$d/heap3.txt" 2> "$d/heap3.err"; then
            grep -q '^note: arena 0, fastbin\[0\]: chunk 0x[0-9a-f]* is in another list too' "$d/heap3.txt" ||
                fail "$label: the fastbin's cycle is not noted"
            grep -q '^note: arena 0, segment 0: the chunk at 0x[0-9a-f]* has size 1099511627[0-9]*, outside its region' \
                "$d/heap3.txt" || fail "$label: the broken size is not noted"
            echo "$label: corrupted: $(grep -c '^note:' "$d/heap3.txt") notes, e.g. $(grep -m1 'another list' "$d/heap3.txt")"
        else
            fail "$label: ptalloc heap --pid on a corrupted heap: $(head -3 "$d/heap3.err")"
        fi
    fi
    echo exit >&7
    exec 7>&-
    wait "$target"
    local rc=$?
    [ $rc -eq 0 ] && grep -qx ok "$d/out" || fail "$label: the target did not end well (exit $rc): $(tail -3 "$d/out")"
    [ $rc -eq 0 ] && echo "$label: the target went on and exited 0"
}

check_target preloaded "$tmp/pre" "$bin/heap_target" LD_PRELOAD="$lib"
if [ "${PTALLOC_VARIANT:-release}" = release ]; then
    check_target static "$tmp/static" "$bin/heap_target_static"
else
    echo "static: linked with the release build's libptalloc.a, checked in the release run"
fi

# ---- 4. errors -----------------------------------------------------------------------

expect_error() { # LABEL PATTERN COMMAND...
    local label=$1 pat=$2
    shift 2
    "$@" > "$tmp/e.out" 2> "$tmp/e.err"
    local rc=$?
    [ $rc -eq 2 ] || fail "$label: exit status $rc, not 2"
    [ -s "$tmp/e.out" ] && fail "$label: wrote to stdout: $(head -2 "$tmp/e.out")"
    [ "$(wc -l < "$tmp/e.err")" -eq 1 ] || fail "$label: not one line: $(cat "$tmp/e.err")"
    if grep -Eq "$pat" "$tmp/e.err"; then
        echo "$label: $(cat "$tmp/e.err")"
    else
        fail "$label: '$(head -1 "$tmp/e.err")' does not match '$pat'"
    fi
}

env -u LD_PRELOAD sleep 30 &
p=$!; pids+=($p)
expect_error "not on ptalloc" "^ptalloc heap: pid $p: not on ptalloc" "$cmd" heap --pid $p

true &
p=$!
wait $p
expect_error "gone" "^ptalloc heap: pid $p: no such process" "$cmd" heap --pid $p

start_target thread "$tmp/thr" "$bin/heap_target" LD_PRELOAD="$lib" && {
    tid=$(ls /proc/$target/task | grep -vx "$target" | head -1)
    expect_error "a thread" "^ptalloc heap: pid $tid: a thread of process $target" "$cmd" heap --pid "$tid"
    exec 7>&-
    wait "$target"
}

LD_PRELOAD="$lib" sleep 30 &
p=$!; pids+=($p)
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
    expect_error "not permitted" "^ptalloc heap: pid $p: not permitted" \
        setpriv --reuid=65534 --regid=65534 --clear-groups "$cmd" heap --pid $p
else
    fail "not permitted: needs root and setpriv to run the command as another user"
fi

# Another tracer first (a process has one): python3 seizes it.
LD_PRELOAD="$lib" sleep 30 &
p=$!; pids+=($p)
"$py" -c '
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
if libc.ptrace(0x4206, int(sys.argv[1]), None, None) != 0:        # PTRACE_SEIZE
    sys.exit("PTRACE_SEIZE: " + os.strerror(ctypes.get_errno()))
open(sys.argv[2], "w").write("seized")
time.sleep(30)' $p "$tmp/seized" &
tracer=$!; pids+=($tracer)
if wait_file "$tmp/seized"; then
    expect_error "traced already" "^ptalloc heap: pid $p: already traced by process $tracer" "$cmd" heap --pid $p
else
    fail "traced already: python3 could not seize the process"
fi

expect_error "itself" "^ptalloc heap: pid [0-9]+: that is this command itself" \
    bash -c 'exec "$0" heap --pid $$' "$cmd"

# A copy of the library with its descriptor changed: version, then the
# first number of the layout (SIZE_SZ).
for what in version layout; do
    "$py" - "$lib" "$tmp/other-$what.so" "$what" <<'EOF' || { fail "cannot patch a copy of $lib"; continue; }
import struct, sys
src, dst, what = sys.argv[1:]
data = bytearray(open(src, "rb").read())
magic = b"ptalloc heap descriptor\0"
if data.count(magic) != 1:
    sys.exit("%s: the descriptor's magic is there %d times" % (src, data.count(magic)))
at = data.index(magic)
if what == "version":
    data[at + 24:at + 28] = struct.pack("<I", 99)
else:
    data[at + 32:at + 40] = struct.pack("<Q", 16)
open(dst, "wb").write(data)
EOF
    LD_PRELOAD="$tmp/other-$what.so" sleep 30 &
    p=$!; pids+=($p)
    sleep 0.2
    if [ $what = version ]; then pat="different build: descriptor version 99"; else pat="different build: SIZE_SZ is 16 there, 8 here"; fi
    expect_error "other build ($what)" "^ptalloc heap: pid $p: its ptalloc \(.*other-$what.so\) is a $pat" \
        "$cmd" heap --pid $p
done

expect_error "no --pid" "^ptalloc heap: --pid PID is missing" "$cmd" heap
expect_error "--pid without a value" "^ptalloc heap: --pid needs a process id" "$cmd" heap --pid
expect_error "--pid abc" "^ptalloc heap: --pid abc: not a process id" "$cmd" heap --pid abc
expect_error "--pid 0" "^ptalloc heap: --pid 0: not a process id" "$cmd" heap --pid 0
expect_error "unknown flag" "^ptalloc heap: unknown flag --frob" "$cmd" heap --pid 1 --frob
expect_error "--html without a file" "^ptalloc heap: --html needs a file" "$cmd" heap --pid 1 --html

[ $fails -eq 0 ] && echo "cmd/heap_pid: all checks passed"
[ $fails -eq 0 ]
