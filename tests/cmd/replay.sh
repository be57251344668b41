#!/usr/bin/env bash
# `ptalloc replay` (cmd/replay.c, cmd/replay_driver.c):
#   1. a deterministic single-threaded C program (replay_prog.c), recorded
#      and replayed with the same options, takes the same decision with the
#      same chunk size in every call - by the command's own count, and by
#      this test's, from `ptalloc json` of both logs;
#   2. options change the outcome where the design says: tcache_count=0
#      leaves no tcache decision, mmap_max=0 no mapped chunk, a lower
#      mmap_threshold more mappings;
#   3. python3 running a small script replays (the figure is printed);
#   4. a 4-thread record (replay_threads.c) replays all its calls, on one
#      replay thread per recorded thread, and the replay's log has no
#      contradiction;
#   5. misuse and bad logs: one line on stderr, nothing on stdout, exit 2.
set -u
cd "$(dirname "$0")/../.."
cmd=build/ptalloc
lib=${PTALLOC_LIB:-$PWD/build/libptalloc.so}
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
[ -x "$cmd" ] && [ -x build/ptalloc-replay ] || { echo "cmd/replay: $cmd or build/ptalloc-replay missing (make)"; exit 2; }
# /usr/bin/python3 itself, recorded in part 3 and reading JSON here:
# `python3` on PATH may be a wrapper script (pyenv's) that execs it - a
# trace ends at exec - and costs most of a second a call.
py=/usr/bin/python3
[ -x $py ] || { echo "cmd/replay: $py missing"; exit 2; }
tmp=$(mktemp -d /tmp/ptalloc-replay-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cf="-std=gnu11 -O1 -g -pthread -Wall -Wextra -fno-builtin-malloc -fno-builtin-free
    -fno-builtin-calloc -fno-builtin-realloc"
cc $cf tests/cmd/replay_prog.c -o "$tmp/prog" -ldl &&
cc $cf tests/cmd/replay_threads.c -o "$tmp/threads" || { echo "cmd/replay: cc failed"; exit 2; }

record() {   # log program args...
    local log=$1; shift
    PTALLOC_LIB=$lib $cmd trace -o "$log" -- "$@" >/dev/null 2>"$tmp/trace.err" ||
        { fail "recording $*: $(cat "$tmp/trace.err")"; return 1; }
}
# A value from the JSON report: jget FILE 'expression on d'
jget() { "$py" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# ---- 1. the same decisions, call by call ------------------------------------
record "$tmp/prog.log" "$tmp/prog" || exit 1
$cmd replay "$tmp/prog.log" --json --trace "$tmp/prog.rep" >"$tmp/prog.json" ||
    { fail "replay of replay_prog failed"; exit 1; }
calls=$(jget "$tmp/prog.json" 'd["calls"]["recorded"]')
[ "$calls" -gt 20000 ] || fail "replay_prog: only $calls calls recorded"
[ "$(jget "$tmp/prog.json" 'd["calls"]["replayed"]')" = "$calls" ] || fail "replay_prog: not every call replayed"
same=$(jget "$tmp/prog.json" 'd["compared"]["same"]')
[ "$same" = "$calls" ] && [ "$(jget "$tmp/prog.json" 'd["compared"]["calls"]')" = "$calls" ] ||
    fail "replay_prog: $same of $calls calls took the recorded decision: $(jget "$tmp/prog.json" 'd["compared"]')"
# The same, counted here: the calls of both logs (up to the driver's own
# calls at its end, after its mark) in order, by function, decision and
# chunk size.
for f in prog.log prog.rep; do
    $cmd json "$tmp/$f" >"$tmp/$f.json" || fail "ptalloc json $f failed"
done
"$py" - "$tmp/prog.log.json" "$tmp/prog.rep.json" <<'EOF' || fail "replay_prog: the logs' calls differ (above)"
import json, sys
CALLS = {'malloc', 'calloc', 'realloc', 'reallocarray', 'free', 'free_sized', 'free_aligned_sized',
         'memalign', 'aligned_alloc', 'posix_memalign', 'valloc', 'pvalloc', 'malloc_trim'}
def calls(path):
    # the driver's own calls (the chunks a log starts with in use, which it
    # allocates first; its end) lie between its marks
    out, own = [], False
    for e in json.load(open(path))['events']:
        if e['kind'] == 'mark':
            label = e.get('label', '')
            own = 'own calls' in label or (own and 'replayed calls' not in label)
        elif e['kind'] in CALLS and not own:
            out.append((e['kind'], e.get('decision'), e.get('size'), e.get('source')))
    return out
a, b = calls(sys.argv[1]), calls(sys.argv[2])
if len(a) != len(b):
    print("record %d calls, replay %d" % (len(a), len(b)))
    sys.exit(1)
diff = [i for i in range(len(a)) if a[i] != b[i]]
if diff:
    print("%d calls differ, first %d: %s / %s" % (len(diff), diff[0], a[diff[0]], b[diff[0]]))
    sys.exit(1)
EOF
echo "replay_prog: $same of $calls calls with the recorded decision and chunk size"

# ---- 2. options change the outcome -----------------------------------------
$cmd replay "$tmp/prog.log" --json -o tcache_count=0 >"$tmp/notc.json" || fail "replay -o tcache_count=0 failed"
[ "$(jget "$tmp/prog.json" 'd["replay"]["decisions"].get("tcache", 0) > 1000')" = True ] ||
    fail "replay_prog: few tcache decisions with the defaults"
[ "$(jget "$tmp/notc.json" 'd["replay"]["decisions"].get("tcache", 0)')" = 0 ] ||
    fail "tcache_count=0: tcache decisions in the replay: $(jget "$tmp/notc.json" 'd["replay"]["decisions"]')"
[ "$(jget "$tmp/notc.json" 'd["options"]')" = "{'tcache_count': '0'}" ] || fail "tcache_count=0: options not reported"
$cmd replay "$tmp/prog.log" --json -o mmap_max=0 >"$tmp/nomap.json" || fail "replay -o mmap_max=0 failed"
[ "$(jget "$tmp/nomap.json" 'd["replay"]["decisions"].get("mmap", 0) + d["replay"]["sys"].get("mmap", 0)')" = 0 ] &&
[ "$(jget "$tmp/prog.json" 'd["replay"]["sys"].get("mmap", 0)')" -gt 0 ] ||
    fail "mmap_max=0: mapped chunks remain, or none without it"
$cmd replay "$tmp/prog.log" --json -o mmap_threshold=32k >"$tmp/lowmap.json" || fail "replay -o mmap_threshold failed"
[ "$(jget "$tmp/lowmap.json" 'd["replay"]["sys"]["mmap"] > 2 * d["recorded"]["sys"]["mmap"]')" = True ] ||
    fail "mmap_threshold=32k: not more mappings: $(jget "$tmp/lowmap.json" 'd["replay"]["sys"]')"
# Untraced: the calls and the measurements, no comparison.
$cmd replay "$tmp/prog.log" --json --untraced --touch none >"$tmp/untr.json" || fail "replay --untraced failed"
[ "$(jget "$tmp/untr.json" '(d["traced"], d["calls"]["replayed"], "compared" in d)')" = "(False, $calls, False)" ] ||
    fail "--untraced: $(cat "$tmp/untr.json")"
[ "$(jget "$tmp/untr.json" 'd["rss"]["peak"] > 0 and d["heap"]["final"] > 0')" = True ] ||
    fail "--untraced: no RSS or heap"
# The text report says the same in words.
$cmd replay "$tmp/prog.log" >"$tmp/prog.txt" || fail "text replay failed"
grep -q "^same decision and chunk size: $calls of $calls calls (100.00%)" "$tmp/prog.txt" ||
    fail "text report: $(cat "$tmp/prog.txt")"

# ---- 3. python3 --------------------------------------------------------------
cat >"$tmp/script.py" <<'EOF'
import json, collections
d = {str(i): list(range(i % 40)) for i in range(5000)}
s = json.dumps(d)
c = collections.Counter(s.split(','))
b = [bytes(i * 200) for i in range(200)]
print(len(json.loads(s)), len(c), len(b))
EOF
record "$tmp/py.log" $py "$tmp/script.py" || exit 1
$cmd replay "$tmp/py.log" --json >"$tmp/py.json" || fail "replay of python3 failed"
pycalls=$(jget "$tmp/py.json" 'd["calls"]["recorded"]')
[ "$(jget "$tmp/py.json" 'd["calls"]["replayed"]')" = "$pycalls" ] || fail "python3: not every call replayed"
echo "python3: $(jget "$tmp/py.json" 'd["compared"]["same"]') of $pycalls calls with the recorded decision and chunk size"

# ---- 4. threads --------------------------------------------------------------
record "$tmp/thr.log" "$tmp/threads" || exit 1
$cmd replay "$tmp/thr.log" --json --trace "$tmp/thr.rep" >"$tmp/thr.json" || fail "threaded replay failed"
tcalls=$(jget "$tmp/thr.json" 'd["calls"]["recorded"]')
[ "$(jget "$tmp/thr.json" 'd["threads"]')" = 5 ] || fail "threaded record: not 5 threads"
[ "$(jget "$tmp/thr.json" 'd["calls"]["replayed"]')" = "$tcalls" ] || fail "threads: not every call replayed"
[ "$(jget "$tmp/thr.json" '(d["compared"]["calls"], d["compared"]["only_record"], d["compared"]["only_replay"], d["compared"]["thread_mismatch"])')" = "($tcalls, 0, 0, 0)" ] ||
    fail "threads: calls unpaired or on the wrong thread: $(jget "$tmp/thr.json" 'd["compared"]')"
$cmd show --check "$tmp/thr.rep" >"$tmp/check.out" ||
    fail "threads: the replay's log has contradictions: $(tail -3 "$tmp/check.out")"
$cmd json "$tmp/thr.rep" >"$tmp/thr.rep.json" || fail "ptalloc json of the threaded replay failed"
[ "$(jget "$tmp/thr.rep.json" 'len(d["threads"])')" -ge 5 ] || fail "threads: the replay ran on fewer than 5 threads"
echo "threads: $(jget "$tmp/thr.json" 'd["compared"]["same"]') of $tcalls calls with the recorded decision and chunk size"

# ---- 5. errors ---------------------------------------------------------------
expect_error() {   # pattern args...
    local pat=$1; shift
    local err; err=$($cmd "$@" 2>&1 >"$tmp/out")
    local rc=$?
    [ $rc -eq 2 ] || fail "ptalloc $*: exit $rc, expected 2"
    [ -s "$tmp/out" ] && fail "ptalloc $*: wrote to stdout"
    [ "$(echo "$err" | wc -l)" -eq 1 ] && echo "$err" | grep -qE "^ptalloc( replay)?: .*$pat" ||
        fail "ptalloc $*: error was: $err"
}
expect_error "no such option 'tcache_cont' \(options: mxfast, .*tcache_count" replay "$tmp/prog.log" -o tcache_cont=0
expect_error "'300' is not a valid value for perturb" replay "$tmp/prog.log" -o perturb=300
expect_error "expected NAME=VALUE" replay "$tmp/prog.log" -o tcache_count
expect_error "$tmp/none: cannot read: No such file" replay "$tmp/none"
echo hello >"$tmp/text.log"
expect_error "not a ptalloc log" replay "$tmp/text.log"
head -c $((65536 * 3 + 10)) "$tmp/prog.log" >"$tmp/cut.log"
expect_error "cut.log: truncated at byte 196608: segment header cut" replay "$tmp/cut.log"
# Cut inside a segment's records: a record split by the cut is named; a
# cut between two records is still a file that ends inside a segment.
head -c $((65536 * 3 + 5000)) "$tmp/prog.log" >"$tmp/cut.log"
expect_error "cut.log: truncated at byte [0-9]+( \(thread 0, segment 2\): an? [a-z_]+ record cut by the end of the file|: the file ends inside segment 3, not at a segment's end as a log does)" \
    replay "$tmp/cut.log"
"$py" tests/cmd/gen_log.py contradict "$tmp/contra.log" || fail "gen_log.py contradict failed"
expect_error "contra.log: event 5 \(thread 0 free\(0x[0-9a-f]+\) \(chunk 32 bytes\): tcache\): the chunk was never allocated in the log, or was freed already; cannot replay" \
    replay "$tmp/contra.log"
expect_error "no log given" replay
expect_error "--touch sometimes: expected none, page or all" replay "$tmp/prog.log" --touch sometimes
expect_error "unknown flag --fast" replay "$tmp/prog.log" --fast
expect_error "--trace $tmp/no/dir: No such file" replay "$tmp/prog.log" --trace "$tmp/no/dir"

[ $fails -eq 0 ] && echo "cmd/replay: ok" || echo "cmd/replay: $fails failures"
[ $fails -eq 0 ]
