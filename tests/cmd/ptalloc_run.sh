#!/usr/bin/env bash
# `ptalloc run` and `ptalloc options` (cmd/ptalloc.c): a program started by
# `ptalloc run -o NAME=VALUE` runs on ptalloc with those options, and every
# misuse ends in a one-line error that names the problem, with no program
# started.  The program asked is python3, which reads the options back from
# the preloaded library with ctypes.
set -u
cd "$(dirname "$0")/../.."
cmd=build/ptalloc
lib=${PTALLOC_LIB:-$PWD/build/libptalloc.so}
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
[ -x "$cmd" ] || { echo "cmd/ptalloc_run: $cmd missing (make)"; exit 2; }
py=$(command -v python3) || { echo "cmd/ptalloc_run: python3 missing"; exit 2; }

# A program that prints the options it runs with, or "glibc" off ptalloc.
read_opts='import ctypes, sys
libc = ctypes.CDLL(None)
try:
    get = libc.ptalloc_get_option
except AttributeError:
    print("glibc"); sys.exit(0)
v = ctypes.c_long()
for n in sys.argv[1:]:
    print(n, v.value if get(n.encode(), ctypes.byref(v)) else "?")'

# 1. Options by name reach the program; the exit status is the program's.
out=$(PTALLOC_LIB=$lib $cmd run -o mmap_threshold=64k -o perturb=0x5a -otcache_count=3 -- \
      "$py" -c "$read_opts" mmap_threshold perturb tcache_count 2>&1)
[ "$out" = "mmap_threshold 65536
perturb 90
tcache_count 3" ] || fail "options not applied: $out"
PTALLOC_LIB=$lib $cmd run -- sh -c 'exit 7'; [ $? -eq 7 ] || fail "exit status not the program's"
# Without -o and without --, the program still runs on ptalloc; a preload
# the caller had stays, after ours.
other=/tmp/ptalloc-cmd-empty.$$.so
echo 'int ptalloc_cmd_test_empty;' | cc -shared -fPIC -x c - -o "$other" || { echo "cmd: cc failed"; exit 2; }
out=$(LD_PRELOAD=$other PTALLOC_LIB=$lib $cmd run sh -c 'echo "$LD_PRELOAD"')
[ "$out" = "$lib:$other" ] || fail "LD_PRELOAD not ours first: $out"
rm -f "$other"
out=$(PTALLOC_LIB=$lib $cmd run "$py" -c "$read_opts" tcache_count)
[ "$out" = "tcache_count 7" ] || fail "default options: $out"

# 2. Each misuse: status 2 (127 for a missing program), one line on
#    stderr naming the problem, nothing on stdout, the program not run.
expect_error() {   # status pattern args...
    local want=$1 pat=$2; shift 2
    local err; err=$(PTALLOC_LIB=$lib $cmd "$@" 2>&1 >/tmp/ptalloc-cmd-out.$$)
    local rc=$?
    [ $rc -eq "$want" ] || fail "ptalloc $*: exit $rc, expected $want"
    [ -s /tmp/ptalloc-cmd-out.$$ ] && fail "ptalloc $*: wrote to stdout"
    [ "$(echo "$err" | wc -l)" -eq 1 ] && echo "$err" | grep -qE "^ptalloc: .*$pat" ||
        fail "ptalloc $*: error was: $err"
    rm -f /tmp/ptalloc-cmd-out.$$
}
expect_error 2 "no such option 'mmap_treshold' \(options: mxfast, .*mmap_threshold" \
    run -o mmap_treshold=1 -- touch /tmp/ptalloc-cmd-ran.$$
expect_error 2 "'300' is not a valid value for perturb" run -o perturb=300 -- touch /tmp/ptalloc-cmd-ran.$$
expect_error 2 "'12q' is not a valid value for top_pad" run -o top_pad=12q -- touch /tmp/ptalloc-cmd-ran.$$
expect_error 2 "expected NAME=VALUE" run -o perturb -- touch /tmp/ptalloc-cmd-ran.$$
expect_error 2 "-o needs NAME=VALUE" run -o
expect_error 2 "run: no program given" run -o perturb=1
expect_error 2 "run: unknown flag -x" run -x true
expect_error 127 "cannot run /nonexistent/prog: No such file or directory" run -- /nonexistent/prog
expect_error 2 "unknown command 'rnu'" rnu true
expect_error 2 "no command given"
[ -e /tmp/ptalloc-cmd-ran.$$ ] && { fail "a program ran after an error"; rm -f /tmp/ptalloc-cmd-ran.$$; }

err=$(PTALLOC_LIB=/nonexistent.so $cmd run true 2>&1)
[ $? -eq 2 ] && [ "$err" = "ptalloc: PTALLOC_LIB=/nonexistent.so: No such file or directory" ] ||
    fail "missing PTALLOC_LIB not reported: $err"

# 3. `ptalloc options` lists every option with its value here.
out=$(PTALLOC_TOP_PAD=4096 $cmd options)
echo "$out" | grep -qE '^top_pad +4096$' || fail "options: top_pad not 4096: $out"
[ "$(echo "$out" | wc -l)" -ge 17 ] || fail "options: fewer than 17 lines"
echo "$out" | grep -qE '^mmap_threshold +131072$' || fail "options: mmap_threshold default: $out"

[ $fails -eq 0 ] && echo "cmd/ptalloc_run: all checks passed"
exit $((fails > 0))
