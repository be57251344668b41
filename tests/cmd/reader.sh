#!/usr/bin/env bash
# The trace log's reading side (cmd/log.c, cmd/rebuild.c, cmd/show.c,
# cmd/json.c) on logs written by tests/cmd/gen_log.py, a writer of
# docs/TRACE-FORMAT.md independent of the library's: the heap rebuilt at
# given events is the one the log describes; records of two threads are
# merged in time order, ties by thread; contradictions are found; every
# broken log is a one-line error with exit status 2; both JSON outputs
# parse and hold what the log holds.
set -u
cd "$(dirname "$0")/../.."
cmd=${BUILD:-$PWD/build}/ptalloc
gen=tests/cmd/gen_log.py
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
[ -x "$cmd" ] || { echo "cmd/reader: $cmd missing (make)"; exit 2; }
command -v python3 >/dev/null || { echo "cmd/reader: python3 missing"; exit 2; }
dir=$(mktemp -d /tmp/ptalloc-reader.XXXXXX)
trap 'rm -rf "$dir"' EXIT
python3 $gen scenario "$dir/s.log" || exit 2
python3 $gen scenario "$dir/noend.log" noend || exit 2
python3 $gen segments "$dir/seg.log" || exit 2
python3 $gen contradict "$dir/c.log" || exit 2

same() {   # name expected-file actual-command...
    local name=$1 want=$2; shift 2
    "$@" >"$dir/got" 2>&1
    diff -u "$want" "$dir/got" >"$dir/diff" || { fail "$name differs:"; cat "$dir/diff"; }
}

# 1. The heap at given events, drawn; the walk checkpoints.
cat >"$dir/final.want" <<'END'
log of pid 4242: after the last event (61 events)
heap 139872 bytes in 9 chunks: 160 in use, 139712 free
regions:
  arena 0 heap (brk)      0x555555559000 - 0x55555555a2a0             4768 bytes, the program break at its end
  arena 1 sub-heap        0x7ffff0000000 - 0x7ffff0021000           135168 bytes of 67108864 reserved

arena 0, segment 0
  +--------------------+------------+-----+----------------------+
  | chunk              |       size | AMP | where                |
  +--------------------+------------+-----+----------------------+
  |     0x555555559000 |        112 | --P | tcache [5] t0        |
  |     0x555555559070 |        208 | --P | small bin [13]       |
  |     0x555555559140 |         32 | --- | tcache [0] t0        |
  |     0x555555559160 |        208 | --P | unsorted [1]         |
  |     0x555555559230 |        112 | --- | in use               |
  |     0x5555555592a0 |       4096 | --P | top                  |
  +--------------------+------------+-----+----------------------+

arena 1, sub-heap 0
  +--------------------+------------+-----+----------------------+
  | chunk              |       size | AMP | where                |
  +--------------------+------------+-----+----------------------+
  |     0x7ffff0000040 |         48 | A-P | in use               |
  |     0x7ffff0000070 |         32 | A-P | tcache [0] t1        |
  |     0x7ffff0000090 |     135024 | --P | top                  |
  +--------------------+------------+-----+----------------------+
  flags: A = NON_MAIN_ARENA, M = IS_MMAPPED, P = PREV_INUSE (? = arena not known)

bins of arena 0:
  unsorted[1] 1: <-> 0x555555559170 (208)
  small bin[13] 1: <-> 0x555555559080 (208)

bins of arena 1:

tcache of thread 0:
  tcache[ 0] (  32 bytes) 1: -> 0x555555559150
  tcache[ 5] ( 112 bytes) 1: -> 0x555555559010

tcache of thread 1:
  tcache[ 0] (  32 bytes) 1: -> 0x7ffff0000080
END
cat >"$dir/at21_t1.want" <<'END'
log of pid 4242: at event 21
event 21: thread 1 free(0x7ffff0000050) (chunk 48 bytes): tcache
heap 270272 bytes in 6 chunks: 32 in use, 270240 free
seen from thread 1: other threads' caches and remote batches count as in use
regions:
  arena 0 heap (brk)      0x555555559000 - 0x55555557a000           135168 bytes, the program break at its end
  arena 1 sub-heap        0x7ffff0000000 - 0x7ffff0021000           135168 bytes of 67108864 reserved

arena 0, segment 0
  +--------------------+------------+-----+----------------------+
  | chunk              |       size | AMP | where                |
  +--------------------+------------+-----+----------------------+
  |     0x555555559000 |        112 | --P | in use               |
  |     0x555555559070 |        208 | --P | in use               |
  |     0x555555559140 |         32 | --P | in use               |
  |     0x555555559160 |     134816 | --P | top                  |
  +--------------------+------------+-----+----------------------+

arena 1, sub-heap 0
  +--------------------+------------+-----+----------------------+
  | chunk              |       size | AMP | where                |
  +--------------------+------------+-----+----------------------+
  |     0x7ffff0000040 |         48 | A-P | tcache [1]           |
  |     0x7ffff0000070 |     135056 | --P | top                  |
  +--------------------+------------+-----+----------------------+
  flags: A = NON_MAIN_ARENA, M = IS_MMAPPED, P = PREV_INUSE (? = arena not known)

bins of arena 0:
  tcache[ 1] (  48 bytes) 1: -> 0x7ffff0000050

bins of arena 1:
END
cat >"$dir/walk0.want" <<'END'
0x0000555555559000 112 tcache 5
0x0000555555559070 208 inuse -1
0x0000555555559140 32 inuse -1
0x0000555555559160 134816 top -1
0x00007ffff0000040 48 inuse -1
0x00007ffff0000070 135056 top -1
bin 1 0 5: 0x0000555555559000
END
cat >"$dir/walk1.want" <<'END'
0x0000555555559000 112 tcache 5
0x0000555555559070 208 smallbin 13
0x0000555555559140 32 tcache 0
0x0000555555559160 208 inuse -1
0x0000555555559230 112 inuse -1
0x00005555555592a0 134496 top -1
0x00007ffff0000040 48 inuse -1
0x00007ffff0000070 32 inuse -1
0x00007ffff0000090 135024 top -1
0x00007ffff7a00000 200704 mmapped -1
bin 1 0 5: 0x0000555555559000
bin 4 0 13: 0x0000555555559070
bin 1 0 0: 0x0000555555559140
END
cat >"$dir/check.want" <<'END'
9 events, 3 contradictions
  event 5 (thread 0 free(0x555555559010) (chunk 32 bytes): tcache): frees chunk 0x555555559000 (32 bytes) but the rebuilt heap has 0x555555559000 (32 bytes) tcache there
  event 6 (thread 0 malloc(24) -> 0x555555559030 (chunk 32 bytes): tcache): allocates over chunk 0x555555559020 (32 bytes), in use since event 3
  event 7 (thread 0 free(0x555555559110) (chunk 32 bytes): fastbin): frees chunk 0x555555559100 (32 bytes) but the rebuilt heap has 0x555555559040 (135104 bytes) top there
END
same "show (last event)" "$dir/final.want" $cmd show "$dir/s.log"
same "show --at 21 --thread 1" "$dir/at21_t1.want" $cmd show "$dir/s.log" --at 21 --thread 1
same "show --walk 0" "$dir/walk0.want" $cmd show "$dir/s.log" --walk 0
same "show --walk 1" "$dir/walk1.want" $cmd show "$dir/s.log" --walk 1
# --at N stops right after event N: the same heap as the walk there.
out=$($cmd show "$dir/s.log" --at 18 | sed -n '2p')
[ "$out" = "event 18: thread 0 walk 0" ] || fail "show --at 18 names the event: $out"
$cmd show "$dir/s.log" --at 4 | grep -qx 'event 4: thread 0 malloc(100) -> 0x555555559010 (chunk 112 bytes): top' ||
    fail "show --at 4: the event in words"
[ "$($cmd show "$dir/s.log" --at 4 | grep -c '^  |  *0x')" -eq 2 ] || fail "show --at 4: two chunks"
# a log without an end record is valid, with a note; zeros after the
# last segment (a segment handed out and never used) change nothing
$cmd show "$dir/noend.log" | grep -q '^note: the log has no end record' || fail "no note for a log without end"
$cmd show "$dir/s.log" | grep -q 'no end record' && fail "a note for a log with an end record"
cp "$dir/s.log" "$dir/zeros.log" && head -c $((3 * 65536)) /dev/zero >>"$dir/zeros.log"
same "show with trailing zero segments" "$dir/final.want" $cmd show "$dir/zeros.log"
# a file cut anywhere but at a segment's end is truncated, even between two
# records (the library sizes its logs in whole segments)
head -c $(( $(stat -c %s "$dir/s.log") - 1 )) "$dir/s.log" > "$dir/cut1.log"
out=$($cmd show "$dir/cut1.log" 2>&1 >/dev/null); rc=$?
[ $rc -eq 2 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -q "truncated at byte" \
    || fail "a log cut between records: $rc '$out'"

# 2. Contradictions: none in the consistent logs, three in the crafted one.
out=$($cmd show "$dir/s.log" --check); rc=$?
[ $rc -eq 0 ] && [ "$out" = "61 events, 0 contradictions" ] || fail "scenario --check: $rc $out"
out=$($cmd show "$dir/seg.log" --check); rc=$?
[ $rc -eq 0 ] && [ "$out" = "24016 events, 0 contradictions" ] || fail "segments --check: $rc $out"
same "contradictions" "$dir/check.want" $cmd show "$dir/c.log" --check
$cmd show "$dir/c.log" --check >/dev/null; [ $? -eq 1 ] || fail "--check with contradictions: not exit 1"

# 3. Merged order and times, JSON contents.
$cmd json "$dir/s.log" -o "$dir/s.json" || fail "json failed"
$cmd json "$dir/seg.log" >"$dir/seg.json" || fail "json (stdout) failed"
$cmd json "$dir/noend.log" >"$dir/noend.json" || fail "json noend failed"
$cmd json "$dir/s.log" --perfetto -o "$dir/s.pf.json" || fail "json --perfetto failed"
python3 - "$dir" <<'PY' || fail "json checks"
import json, sys, collections
d = sys.argv[1]
bad = []
def check(cond, what):
    if not cond:
        bad.append(what)
for name in ('s', 'seg'):
    doc = json.load(open('%s/%s.json' % (d, name)))
    order = [tuple(l.split()) for l in open('%s/%s.log.order' % (d, name))]
    ev = doc['events']
    check(doc['format'] == 'ptalloc-trace-json' and doc['version'] == 1, name + ': format/version')
    check([(str(e['thread']), e['kind']) for e in ev] == order, name + ': merged order is not time order')
    check([e['n'] for e in ev] == list(range(len(ev))), name + ': numbers')
    check(doc['summary']['events'] == len(ev) and doc['summary']['contradictions'] == 0, name + ': summary')
    check(all(a['t_ns'] <= b['t_ns'] for a, b in zip(ev, ev[1:])), name + ': times go back')
doc = json.load(open(d + '/s.json'))
ev = doc['events']
# step t is 8 t ns after the start; events 12-14 share a stamp (thread 0's
# two records keep their order, thread 1's comes after)
check(ev[0]['t_ns'] == 8 and ev[60]['t_ns'] == 8 * 59, 'times: %d %d' % (ev[0]['t_ns'], ev[60]['t_ns']))
check([(e['t_ns'], e['thread'], e['kind']) for e in ev[12:15]] ==
      [(104, 0, 'set'), (104, 0, 'malloc'), (104, 1, 'set')], 'ties')
kinds = collections.Counter(e['kind'] for e in ev)
check(kinds == {'set': 23, 'malloc': 6, 'free': 6, 'sys': 5, 'realloc': 3, 'walk': 2, 'modules': 1,
                'thread_start': 1, 'arena_new': 1, 'arena': 1, 'mark': 1, 'free_sized': 1, 'snapshot': 1,
                'snapshot_end': 1, 'calloc': 1, 'memalign': 1, 'valloc': 1, 'posix_memalign': 1,
                'malloc_trim': 1, 'thread_exit': 1, 'fork': 1, 'end': 1}, 'kinds: %s' % kinds)
check(doc['summary']['calls'] == 21 and doc['summary']['complete'] is True, 'summary calls/complete')
check(doc['summary']['heap_bytes'] == 139872 and doc['summary']['in_use_bytes'] == 160, 'totals')
check([t['tid'] for t in doc['threads']] == [1000, 1001], 'threads')
check([m['path'] for m in doc['modules']] == ['/usr/bin/prog', '/lib/x86_64-linux-gnu/libc.so.6'], 'modules')
e = ev[38]
check(e == {'n': 38, 't_ns': 296, 'thread': 0, 'kind': 'realloc', 'decision': 'moved', 'old_addr': '0x555555559140',
            'old_size': 32, 'source': 'top', 'request': 100, 'addr': '0x555555559160', 'size': 112,
            'site': ['0x555555555123']}, 'realloc event: %s' % e)
check(ev[17]['label'] == 'phase 1' and ev[45]['decision'] == 'failed' and 'addr' not in ev[45], 'mark, failed')
check(json.load(open(d + '/noend.json'))['summary']['complete'] is False, 'noend complete')
# Perfetto: counters, thread tracks, one complete event per call
pf = json.load(open(d + '/s.pf.json'))
te = pf['traceEvents']
check(pf['displayTimeUnit'] == 'ns', 'displayTimeUnit')
names = {(e['name'], e['args']['name']) for e in te if e['ph'] == 'M'}
check({('thread_name', 'thread 0 (tid 1000)'), ('thread_name', 'thread 1 (tid 1001)')} <= names, 'thread names')
counters = collections.Counter(e['name'] for e in te if e['ph'] == 'C')
check(set(counters) == {'heap bytes', 'in-use bytes', 'free bytes'}, 'counters: %s' % counters)
last = {}
for e in te:
    if e['ph'] == 'C':
        last[e['name']] = e['args']['bytes']
check(last == {'heap bytes': 139872, 'in-use bytes': 160, 'free bytes': 139712}, 'last counters %s' % last)
calls = [e for e in te if e['ph'] == 'X']
check(len(calls) == 21 and all(e['pid'] == 4242 and e['tid'] in (1000, 1001) and e['dur'] >= 0 for e in calls),
      'complete events')
check(calls[0]['name'] == 'malloc' and calls[0]['args']['decision'] == 'top' and calls[0]['ts'] == 0.008 and
      calls[0]['dur'] == 0.032, 'first call: %s' % calls[0])
for b in bad:
    print('json:', b)
sys.exit(1 if bad else 0)
PY

# 4. Broken logs: one line naming the problem, status 2, nothing on
#    stdout, no output file left behind.
for kind in truncated magic version type varint address site segmagic; do
    python3 $gen corrupt $kind "$dir/x.log" || { fail "gen $kind"; continue; }
    want="ptalloc show: $dir/x.log: $(cat "$dir/x.log.expect")"
    for sub in show json; do
        err=$($cmd $sub "$dir/x.log" -o "$dir/x.out" 2>&1 >"$dir/stdout"); rc=$?
        [ $sub = show ] && { err=$($cmd show "$dir/x.log" 2>&1 >"$dir/stdout"); rc=$?; }
        [ $rc -eq 2 ] || fail "$sub $kind: exit $rc"
        [ "$err" = "${want/ptalloc show/ptalloc $sub}" ] || fail "$sub $kind: '$err', expected '${want/ptalloc show/ptalloc $sub}'"
        [ -s "$dir/stdout" ] && fail "$sub $kind: wrote to stdout"
        [ -e "$dir/x.out" ] || [ -e "$dir/x.out.tmp" ] && fail "$sub $kind: left an output file"
    done
done
expect_error() {   # expected-message args...
    local want=$1; shift
    local err; err=$($cmd "$@" 2>&1 >/dev/null); local rc=$?
    [ $rc -eq 2 ] && [ "$err" = "$want" ] || fail "ptalloc $*: exit $rc, '$err', expected '$want'"
}
expect_error "ptalloc show: $dir/none.log: cannot read: No such file or directory" show "$dir/none.log"
expect_error "ptalloc show: $dir/s.log: no event 61 (the log has 61 events, 0 to 60)" show "$dir/s.log" --at 61
expect_error "ptalloc show: $dir/s.log: no walk record with ordinal 2" show "$dir/s.log" --walk 2
expect_error "ptalloc show: --at x: not a number" show "$dir/s.log" --at x
expect_error "ptalloc show: no log given (see 'ptalloc --help')" show
expect_error "ptalloc json: unknown flag --bogus (see 'ptalloc --help')" json "$dir/s.log" --bogus
$cmd --help | grep -q 'ADDR SIZE WHERE BIN' || fail "--help does not document show --walk"

[ $fails -eq 0 ] && echo "cmd/reader: all checks passed"
exit $((fails > 0))
