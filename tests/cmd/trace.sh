#!/usr/bin/env bash
# The trace log (docs/TRACE-FORMAT.md), written by the variant's library:
#  1. trace_scenario's heap, rebuilt from the log at each of its ptalloc_walk
#     checkpoints (`ptalloc show --walk K`), is what the walk reported,
#     chunk for chunk, with the default options and others that change the
#     paths (no tcache, no fastbins, perturb, a low mmap threshold, no
#     mid-size cache, no remote batches, one arena); threads included;
#  2. every call trace_decisions announces gets the decision the design
#     fixes for it;
#  3. fork: the child's log is FILE.<pid>, starts from a snapshot and
#     rebuilds to the child's own walk; exec: the program executed runs
#     untraced, and the parent's log stays readable;
#  4. real programs (python, git, sqlite) print the same traced as not,
#     and their logs rebuild without a contradiction;
#  5. `ptalloc trace` errors: no such program, an unwritable log file.
set -u
cd "$(dirname "$0")/../.."
root=$PWD
cmd=$root/build/ptalloc
lib=${PTALLOC_LIB:-$root/build/libptalloc.so}
bin=$root/build/tests/cmd
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
for p in trace_scenario trace_decisions trace_fork; do
    [ -x "$bin/$p" ] || { echo "cmd/trace: $bin/$p missing (make tests)"; exit 2; }
done

# The walks a program wrote (blocks "walk K" then one chunk a line) against
# the log's rebuild at each checkpoint.  Prints the number that matched.
compare_walks() {      # LOG WALKFILE LABEL
    local log=$1 walks=$2 label=$3 k ok=0 total=0
    while read -r k; do
        total=$((total + 1))
        awk -v k="$k" '/^walk /{on = ($2 == k); next} on' "$walks" | sort > "$tmp/mine"
        if ! "$cmd" show "$log" --walk "$k" > "$tmp/got.raw" 2> "$tmp/err"; then
            fail "$label: show --walk $k: $(head -1 "$tmp/err")"
            continue
        fi
        sort "$tmp/got.raw" > "$tmp/got"
        if cmp -s "$tmp/mine" "$tmp/got"; then
            ok=$((ok + 1))
        else
            fail "$label: walk $k differs from the log's rebuild:"
            diff "$tmp/mine" "$tmp/got" | head -8 | sed 's/^/    /'
        fi
    done < <(sed -n 's/^walk \([0-9]*\)$/\1/p' "$walks")
    [ "$total" -gt 0 ] || fail "$label: no walks written"
    echo "$ok/$total"
}

# compare_walks runs in $(...): its failures are lines of its output.
walks_ok() {           # OUTPUT LABEL
    local last=${1##*$'\n'}
    if [ "${last%/*}" != "${last#*/}" ] || [ "${last#*/}" = 0 ]; then
        printf '%s\n' "$1" | sed '$d'
        fail "$2: walks rebuilt $last"
    fi
}

no_contradictions() {  # LOG LABEL
    local out
    out=$("$cmd" show "$1" --check 2>&1)
    [ $? -eq 0 ] || fail "$2: show --check: $(echo "$out" | tail -3)"
    echo "$out" | grep -q " 0 contradictions" || fail "$2: $(echo "$out" | tail -1)"
}

# 1. rebuild = walk, under several option sets
for opts in "" PTALLOC_TCACHE_COUNT=0 PTALLOC_MXFAST=0 PTALLOC_PERTURB=0x5a \
            PTALLOC_MMAP_THRESHOLD=4096 PTALLOC_TCACHE_MID=0 PTALLOC_REMOTE_BATCH=0 \
            PTALLOC_ARENA_MAX=1; do
    rm -f "$tmp"/s.trace*
    if ! env $opts PTALLOC_TRACE="$tmp/s.trace" LD_PRELOAD="$lib" "$bin/trace_scenario" "$tmp/walks" \
            > "$tmp/out" 2>&1; then
        fail "trace_scenario [$opts]: $(tail -3 "$tmp/out")"
        continue
    fi
    r=$(compare_walks "$tmp/s.trace" "$tmp/walks" "scenario [$opts]")
    walks_ok "$r" "scenario [$opts]"
    no_contradictions "$tmp/s.trace" "scenario [$opts]"
    echo "scenario [${opts:-defaults}]: walks rebuilt ${r##*$'\n'}"
done

# 2. decisions
rm -f "$tmp/d.trace"
PTALLOC_TRACE="$tmp/d.trace" LD_PRELOAD="$lib" "$bin/trace_decisions" > "$tmp/d.out" 2>&1 \
    || fail "trace_decisions: $(tail -3 "$tmp/d.out")"
if "$cmd" json "$tmp/d.trace" > "$tmp/d.json" 2> "$tmp/err"; then
    python3 - "$tmp/d.json" > "$tmp/d.check" <<'EOF'
import json, sys
events = json.load(open(sys.argv[1]))['events']
calls = {'malloc', 'calloc', 'realloc', 'reallocarray', 'free', 'free_sized', 'free_aligned_sized',
         'memalign', 'aligned_alloc', 'posix_memalign', 'valloc', 'pvalloc', 'malloc_trim'}
n = bad = 0
for i, e in enumerate(events):
    if e['kind'] != 'mark' or not e.get('label', '').startswith('expect '):
        continue
    n += 1
    _, kind, want = e['label'].split(' ', 2)
    nxt = next((x for x in events[i + 1:] if x['thread'] == e['thread'] and x['kind'] in calls), None)
    got = None
    if nxt:
        got = nxt['decision'] + ('+merged_prev' if nxt.get('merged_prev') else '') \
              + ('+merged_next' if nxt.get('merged_next') else '')
    if not nxt or nxt['kind'] != kind or got != want:
        bad += 1
        print('MISMATCH after mark %d "%s": %s %s' % (e['n'], e['label'], nxt and nxt['kind'], got))
print('%d %d' % (n, bad))
EOF
    read -r n bad < <(tail -1 "$tmp/d.check")
    [ "${bad:-1}" = 0 ] || { fail "decisions: ${bad:-?} of ${n:-?} differ"; head -20 "$tmp/d.check"; }
    want=$(sed -n 's/^\([0-9]*\) expectations$/\1/p' "$tmp/d.out")
    [ "${n:-0}" = "$want" ] && [ "$n" -ge 20 ] || fail "decisions: $n marks found, the program made ${want:-?}"
    echo "decisions: ${n:-0} checked, ${bad:-?} differ"
else
    fail "decisions: json: $(head -1 "$tmp/err")"
fi
no_contradictions "$tmp/d.trace" decisions

# 3. fork and exec
mkdir "$tmp/fk"
PTALLOC_TRACE="$tmp/fk/f.trace" LD_PRELOAD="$lib" "$bin/trace_fork" "$tmp/fk/child.walk" "$tmp/fk/env" \
    > "$tmp/fk.out" 2>&1 || fail "trace_fork: exit $? $(tail -3 "$tmp/fk.out")"
logs=$(cd "$tmp/fk" && ls f.trace* 2>/dev/null | tr '\n' ' ')
child=$(cd "$tmp/fk" && ls f.trace.* 2>/dev/null)
[ "$(echo "$child" | wc -w)" = 1 ] || fail "fork: expected f.trace and one f.trace.<pid>, got: $logs"
if [ -n "$child" ]; then
    pid=${child##*.}
    "$cmd" json "$tmp/fk/$child" > "$tmp/child.json" 2> "$tmp/err" || fail "fork: child log: $(head -1 "$tmp/err")"
    python3 - "$tmp/child.json" "$pid" <<'EOF' || fail "fork: the child's log header or start is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
log = d['log']
assert str(log['pid']) == sys.argv[2], log
assert log['parent_pid'] != 0 and log['forked_child'] is True, log
kinds = [e['kind'] for e in d['events']]
assert 'snapshot' in kinds[:8], kinds[:8]
EOF
    r=$(compare_walks "$tmp/fk/$child" "$tmp/fk/child.walk" "fork child")
    walks_ok "$r" "fork child"
    no_contradictions "$tmp/fk/$child" "fork child"
    echo "fork: child's log rebuilt to its walk (${r##*$'\n'})"
fi
no_contradictions "$tmp/fk/f.trace" "fork parent"
"$cmd" json "$tmp/fk/f.trace" | grep -q '"kind":"fork"' || fail "fork: no fork record in the parent's log"
grep -q PTALLOC_TRACE "$tmp/fk/env" && fail "exec: the executed program saw PTALLOC_TRACE"
grep -q "^LD_PRELOAD=" "$tmp/fk/env" || fail "exec: the executed program lost LD_PRELOAD"

# 4. real programs: the same output traced; logs that rebuild
py=/usr/bin/python3
run_both() {          # LABEL FILTER -- COMMAND...
    local label=$1 filter=$2; shift 3
    LD_PRELOAD="$lib" "$@" > "$tmp/plain" 2>&1; local s1=$?
    PTALLOC_TRACE="$tmp/$label.trace" LD_PRELOAD="$lib" "$@" > "$tmp/traced" 2>&1; local s2=$?
    [ $s1 = $s2 ] || fail "$label: exit $s1 untraced, $s2 traced"
    if ! cmp -s <(sed -e "$filter" "$tmp/plain") <(sed -e "$filter" "$tmp/traced"); then
        fail "$label: output differs when traced"
        diff <(sed -e "$filter" "$tmp/plain") <(sed -e "$filter" "$tmp/traced") | head -6
    fi
    [ -s "$tmp/$label.trace" ] || fail "$label: no log"
    no_contradictions "$tmp/$label.trace" "$label"
    echo "$label: same output, $("$cmd" show "$tmp/$label.trace" --check 2>&1 | tail -1)"
}
if [ -x "$py" ] && "$py" -c 'import test.test_heapq' 2>/dev/null; then
    run_both python 's/ in [0-9.]*s$/ in Ns/' -- "$py" -m unittest test.test_heapq test.test_json
else
    fail "python: $py or its test modules missing (tools/deps.sh test installs them)"
fi
git init -q "$tmp/repo" && for i in 1 2 3; do echo "line $i" >> "$tmp/repo/f"; git -C "$tmp/repo" add f;
    git -C "$tmp/repo" -c user.name=t -c user.email=t@t commit -qm "commit $i"; done
run_both git 's/^Date: .*//' -- git -C "$tmp/repo" log --stat -p
printf 'create table t(a, b);\nwith recursive c(x) as (select 1 union all select x + 1 from c where x < 20000)\n insert into t select x, printf("%%08d", x * 7919 %% 100003) from c;\ncreate index i on t(b);\nselect count(*), sum(a), min(b), max(b) from t;\nselect b from t order by b limit 5;\n' > "$tmp/q.sql"
run_both sqlite 's/x/x/' -- sqlite3 :memory: ".read $tmp/q.sql"

# 5. the command's errors
out=$("$cmd" trace -o "$tmp/x.trace" -- "$tmp/no-such-program" 2>&1); s=$?
[ $s = 127 ] && [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "no-such-program" \
    || fail "trace of a missing program: status $s, '$out'"
out=$("$cmd" trace -o "$tmp/no/such/dir/x.trace" -- true 2>&1); s=$?
[ $s = 2 ] && [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "cannot write" \
    || fail "trace to an unwritable file: status $s, '$out'"
out=$("$cmd" trace --stack 0 -- true 2>&1); s=$?
[ $s = 2 ] && echo "$out" | grep -q "stack" || fail "trace --stack 0: status $s, '$out'"
PTALLOC_LIB="$lib" "$cmd" trace -o "$tmp/t.trace" --stack 8 -- "$py" -c 'print(sum(range(10)))' \
    > "$tmp/t.out" 2> "$tmp/t.err" || fail "ptalloc trace --stack 8: $(cat "$tmp/t.err")"
[ "$(cat "$tmp/t.out")" = 45 ] || fail "ptalloc trace: the program's output is not passed through"
grep -q "log in $tmp/t.trace" "$tmp/t.err" || fail "ptalloc trace: no word of the log: $(cat "$tmp/t.err")"
no_contradictions "$tmp/t.trace" "trace --stack 8"
"$cmd" json "$tmp/t.trace" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["log"]["stack_depth"] == 8, d["log"]
deep = [e for e in d["events"] if len(e.get("site", [])) > 1]
assert deep, "no call site with more than one frame"
' || fail "trace --stack 8: no deep call sites"

grep -q "did not end through exit" "$tmp/t.err" && fail "ptalloc trace: a note of a bad end for a program that exited"
# A program that executes another (a wrapper script): the note says so.
printf '#!/bin/sh\nexec true\n' > "$tmp/wrapper" && chmod +x "$tmp/wrapper"
PTALLOC_LIB="$lib" "$cmd" trace -o "$tmp/w.trace" -- "$tmp/wrapper" 2> "$tmp/w.err" || fail "trace of a wrapper: $(cat "$tmp/w.err")"
grep -q "did not end through exit.*wrapper script" "$tmp/w.err" || fail "trace of a wrapper: no note: $(cat "$tmp/w.err")"
no_contradictions "$tmp/w.trace" "wrapper"

[ $fails -eq 0 ] && echo "cmd/trace: all passed"
exit $((fails > 0))
