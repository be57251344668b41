#!/usr/bin/env bash
# CPython on ptalloc, compared with CPython on glibc.
#   Debian packages: python3 (3.11), libpython3.11-testsuite
#
# 1. The interpreter's own regression tests (python3 -m test, 3 worker
#    processes) on allocation-heavy and threaded modules, with
#    PYTHONMALLOC=malloc so that every object allocation goes to malloc
#    instead of pymalloc's arenas. The preloaded run must succeed and give
#    every test case the same outcome (ok / skipped / failure / error) as
#    the glibc run.
# 2. A pure-Python allocation churn script (dicts, strings, big ints,
#    bytearrays crossing the mmap threshold, cyclic garbage, threads that
#    free what other threads allocated), run on glibc and then preloaded
#    both with pymalloc and with PYTHONMALLOC=malloc; its output (digests
#    of everything it built) must be identical.
source "$(dirname "$0")/common.bash"

PY=/usr/bin/python3          # Debian's interpreter: the test suite is its package
[ -x "$PY" ] || { echo "FAIL: $PY missing (apt-get install python3)" >&2; exit 1; }
"$PY" -c 'import test.test_list' 2>/dev/null \
    || { echo "FAIL: the CPython test suite is missing (apt-get install libpython3.$("$PY" -c 'import sys; print(sys.version_info[1])')-testsuite)" >&2; exit 1; }
check_preload
cd "$T"

if [ "$QUICK" = 1 ]; then
    MODULES="test_threading test_queue test_thread test_threading_local
             test_list test_dict test_set test_unicode test_bytes test_json test_re
             test_collections test_long test_deque test_pickle test_ctypes test_gc
             test_weakref test_tracemalloc test_sort"
    SCALE=1
else
    MODULES="test_threading test_queue test_thread test_threading_local test_concurrent_futures
             test_list test_dict test_set test_string test_unicode test_bytes test_json
             test_re test_collections test_itertools test_sort test_long test_int
             test_float test_tuple test_deque test_heapq test_pickle test_array test_struct
             test_decimal test_ordered_dict test_weakref test_gc test_memoryview test_ctypes
             test_tracemalloc test_marshal test_descr test_fstring test_exceptions
             test_xml_etree test_mmap test_zlib test_codecs test_functools test_copy
             test_hashlib test_bigmem"
    SCALE=2
fi
# test_concurrent_futures: process pools and the slow wait tests are left out
# (mostly sleeping); the thread-pool executor and shutdown tests stay.
IGNORE=(-i '*ProcessPool*' -i 'ThreadPoolWaitTests' -i 'ThreadPoolAsCompletedTest')

# ---- 1. regression tests ------------------------------------------------
outcomes() {   # junit xml -> sorted "test-id outcome" lines
    "$PY" - "$1" <<'EOF'
import sys, xml.etree.ElementTree as ET
rows = []
for tc in ET.parse(sys.argv[1]).iter("testcase"):
    kinds = [c.tag for c in tc if c.tag in ("skipped", "failure", "error")]
    rows.append("%s %s" % (tc.get("name"), kinds[0] if kinds else tc.get("result", "?")))
print("\n".join(sorted(rows)))
EOF
}

suite() {   # suite NAME run-function
    local name=$1 how=$2 rc=0
    mkdir -p "$T/$name" && ( cd "$T/$name" &&
        $how 400 env PYTHONMALLOC=malloc "$PY" -m test -j3 --timeout 300 --junit-xml "$T/$name.xml" \
            "${IGNORE[@]}" $MODULES ) >"$T/$name.log" 2>&1 || rc=$?
    echo "$rc" >"$T/$name.rc"
}
t0=$SECONDS; suite suite.glibc glibc;   t_glibc=$((SECONDS - t0))
t0=$SECONDS; suite suite.ptalloc pre;   t_pre=$((SECONDS - t0))
r=$(cat "$T/suite.glibc.rc"); p=$(cat "$T/suite.ptalloc.rc")
echo "  python -m test, $(wc -w <<<"$MODULES") modules: glibc ${t_glibc}s, preloaded ${t_pre}s"
status "python -m test" "$r" "$p"
if [ "$r" -ne 0 ]; then echo "        glibc run:"; show_tail "$T/suite.glibc.log" 25; fi
if [ "$p" -ne 0 ]; then echo "        preloaded run:"; show_tail "$T/suite.ptalloc.log" 25; fi
if [ -s "$T/suite.glibc.xml" ] && [ -s "$T/suite.ptalloc.xml" ]; then
    outcomes "$T/suite.glibc.xml"   >"$T/outcomes.glibc"
    outcomes "$T/suite.ptalloc.xml" >"$T/outcomes.ptalloc"
    n=$(wc -l <"$T/outcomes.glibc")
    if [ "$n" -lt $((QUICK ? 300 : 1000)) ]; then bad "only $n test cases ran on glibc"; fi
    same "test case outcomes" "$T/outcomes.glibc" "$T/outcomes.ptalloc"
else
    bad "python -m test wrote no junit xml"
fi

# ---- 2. allocation churn ------------------------------------------------
cat >"$T/churn.py" <<'EOF'
import sys, gc, hashlib, json, random, re, threading, queue, array, math

SCALE = int(sys.argv[1])
sys.set_int_max_str_digits(0)
def digest(obj):
    return hashlib.sha256(repr(obj).encode()).hexdigest()[:16]
def out(name, *vals):
    print(name, *vals, flush=True)

rng = random.Random(12345)

# dicts: grow, delete most, regrow (resizes, free lists, reuse)
d = {}
for i in range(50000 * SCALE):
    d["k%d_%s" % (i, "x" * (i % 37))] = (i, str(i) * (i % 5), [i] * (i % 9))
keys = list(d)
rng.shuffle(keys)
for k in keys[: len(keys) * 3 // 4]:
    del d[k]
for i in range(20000 * SCALE):
    d[i] = {"a": i, "b": [str(i)] * (i % 7)}
out("dict", len(d), digest(sorted(d.items(), key=repr)[:2000]))
del d, keys

# strings and lists of varied sizes, joined and split
parts = ["".join(chr(97 + rng.randrange(26)) for _ in range(rng.randrange(1, 300)))
         for _ in range(20000 * SCALE)]
text = " ".join(parts)
words = text.split()
out("text", len(text), len(words), digest(sorted(set(words))[:500]))
counts = {}
for w in re.findall(r"[a-e]+[f-z]", text):
    counts[w] = counts.get(w, 0) + 1
out("regex", len(counts), digest(sorted(counts.items())[:500]))
del parts, text, words, counts

# big integers
f = math.factorial(3000 * SCALE)
s = str(f)
p = pow(3, 20000 * SCALE, 10**400 + 7)
out("bigint", len(s), s[:20], s[-20:], digest(p), digest(int(s[::-1]) % (2**521 - 1)))
del f, s

# bytearrays growing and shrinking through the mmap threshold (realloc)
ba = bytearray()
sizes = []
for i in range(300 * SCALE):
    n = rng.choice((1, 100, 5000, 70000, 200000, 1 << 20, 3 << 20))
    if rng.random() < 0.6:
        ba += bytes([i & 255]) * n
    else:
        del ba[len(ba) // 2:]
    sizes.append(len(ba))
    if len(ba) > (16 << 20):
        ba = ba[: 1 << 20]
out("bytearray", len(ba), digest(sizes), hashlib.sha256(ba).hexdigest()[:16])
del ba

# many short-lived blocks of random sizes, some kept
keep = []
h = hashlib.sha256()
for i in range(100000 * SCALE):
    b = bytes([i & 255]) * rng.randrange(0, 2000 if i % 100 else 300000)
    if rng.random() < 0.05:
        keep.append(b)
    if len(keep) > 500:
        h.update(keep.pop(rng.randrange(len(keep))))
out("blocks", len(keep), h.hexdigest()[:16])
del keep

# cyclic garbage collected by the gc
class Node:
    def __init__(self, v):
        self.v = v; self.next = None; self.data = [v] * (v % 50)
total = 0
for r in range(20 * SCALE):
    nodes = [Node(i) for i in range(5000)]
    for a, b in zip(nodes, nodes[1:] + nodes[:1]):
        a.next = b
    total += sum(n.next.v for n in nodes)
    del nodes
    gc.collect()
out("cycles", total)

# json round trips
obj = [{"id": i, "name": "n%d" % i, "tags": ["t%d" % j for j in range(i % 10)],
        "val": i * 1.5, "sub": {"x": [i] * (i % 20)}} for i in range(20000 * SCALE)]
js = json.dumps(obj, sort_keys=True)
back = json.loads(js)
out("json", len(js), back == obj, hashlib.sha256(js.encode()).hexdigest()[:16])
del obj, js, back

# threads: each churns on its own, then a producer/consumer pipeline where
# blocks are freed by a different thread than the one that allocated them
def worker(seed, res):
    r = random.Random(seed)
    live = {}
    acc = hashlib.sha256()
    for i in range(30000 * SCALE):
        k = r.randrange(2000)
        if k in live:
            acc.update(live.pop(k))
        else:
            live[k] = bytes([k & 255]) * r.randrange(1, 4000)
    res[seed] = (len(live), acc.hexdigest()[:16])
res = {}
ts = [threading.Thread(target=worker, args=(s, res)) for s in range(6)]
for t in ts: t.start()
for t in ts: t.join()
out("threads", sorted(res.items()))

q = queue.Queue(maxsize=256)
sums = {}
def producer(pid):
    r = random.Random(1000 + pid)
    for i in range(20000 * SCALE):
        q.put((pid, [pid] * r.randrange(1, 64), "s" * r.randrange(0, 3000)))
    q.put(None)
def consumer(cid):
    n = 0; tot = 0
    while True:
        item = q.get()
        if item is None:
            break
        n += 1; tot += len(item[1]) + len(item[2])
    sums[cid] = (n, tot)
prods = [threading.Thread(target=producer, args=(i,)) for i in range(3)]
cons = [threading.Thread(target=consumer, args=(i,)) for i in range(3)]
for t in prods + cons: t.start()
for t in prods + cons: t.join()
out("queue", sum(v[0] for v in sums.values()), sum(v[1] for v in sums.values()))

# array module and sorting
a = array.array("d", (rng.random() for _ in range(200000 * SCALE)))
a = array.array("d", sorted(a))
out("array", len(a), digest(a[:100].tolist()), digest(a[-100:].tolist()))
out("done")
EOF
run_both churn 300 cat "$PY" "$T/churn.py" "$SCALE"
# the same script preloaded with every object in malloc instead of pymalloc
p=0
pre 300 env PYTHONMALLOC=malloc "$PY" "$T/churn.py" "$SCALE" >"$T/churn.malloc" 2>&1 || p=$?
status "churn (PYTHONMALLOC=malloc)" 0 "$p"
[ "$p" -eq 0 ] || show_tail "$T/churn.malloc"
same "churn (PYTHONMALLOC=malloc)" "$T/churn.glibc" "$T/churn.malloc"

finish
