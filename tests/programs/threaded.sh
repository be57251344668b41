#!/usr/bin/env bash
# Multi-threaded programs on ptalloc, compared with glibc.
#   Debian packages: xz-utils, zstd, pigz, coreutils (sort), python3
#
# A generated 40 MB text file (10 MB for debug/ubsan) goes through
#   xz -T2 (block-parallel compression, threaded decompression),
#   zstd -T2 (worker threads, plus a --long=26 window), pigz -p 2,
#   sort --parallel=2 (with a small buffer, so it also merges temp files),
#   a Python thread pool where zlib, lzma, bz2 and hashlib run outside the
#   GIL, so C code on 4 threads allocates and frees at the same time.
# Each step's output (a digest) and exit status must match the glibc run,
# and each decompression must give back the original.
source "$(dirname "$0")/common.bash"
need xz zstd pigz sort sha256sum
PY=/usr/bin/python3
check_preload
cd "$T"

if [ "$QUICK" = 1 ]; then LINES=150000; XZ_MB=4; else LINES=600000; XZ_MB=12; fi

cat >gen.py <<'EOF'
import sys, random
n = int(sys.argv[1])
r = random.Random(7)
words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi".split()
buf = []
for i in range(n):
    buf.append("%08x\t%d\t%s\t%s\n" % (r.getrandbits(32), r.randrange(1000000),
               " ".join(r.choice(words) for _ in range(r.randrange(1, 12))), "x" * r.randrange(0, 40)))
    if len(buf) >= 10000:
        sys.stdout.write("".join(buf)); buf = []
sys.stdout.write("".join(buf))
EOF
cat >pool.py <<'EOF'
import sys, zlib, lzma, bz2, hashlib, re
from concurrent.futures import ThreadPoolExecutor
data = open(sys.argv[1], "rb").read()
chunk = 256 * 1024
pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)]
def work(args):
    i, p = args
    z = zlib.compress(p, 6)
    assert zlib.decompress(z) == p
    b = bz2.compress(p, 5) if i % 4 == 0 else b""
    if b: assert bz2.decompress(b) == p
    x = lzma.compress(p, preset=1) if i % 8 == 1 else b""
    if x: assert lzma.decompress(x) == p
    words = sorted(set(re.findall(rb"[a-z]+", p)))
    lines = sorted(p.split(b"\n"))
    h = hashlib.sha256(b"".join(lines)).hexdigest()[:12]
    return i, len(z), len(b), len(x), len(words), h
with ThreadPoolExecutor(max_workers=4) as ex:
    res = list(ex.map(work, enumerate(pieces)))
for r in res:
    print(*r)
print("chunks", len(res), "total", sum(r[1] for r in res))
EOF
"$PY" gen.py "$LINES" >data.txt
head -c $((XZ_MB << 20)) data.txt >slice.txt
echo "  input: $(stat -c %s data.txt) bytes, xz slice $(stat -c %s slice.txt) bytes"

# step NAME SIDE cmd... — stdin as redirected by the caller; appends
# "NAME rc=RC SHA SIZE" (of stdout) to results.SIDE, keeps stdout as SIDE.NAME
step() {
    local name=$1 side=$2 rc=0 t0=$SECONDS; shift 2
    $side 300 "$@" >"$side.$name" 2>"$side.$name.err" || rc=$?
    printf '%-10s rc=%d %s %s\n' "$name" "$rc" "$(sha256sum <"$side.$name" | cut -c1-16)" "$(stat -c %s "$side.$name")" >>"results.$side"
    [ "$rc" -eq 0 ] || sed -n "1,5s/^/    $name: /p" "$side.$name.err" >>"results.$side"
    echo "$name $((SECONDS - t0))" >>"times.$side"
}

# the decompression steps read the glibc run's compressed files
steps() {
    local s=$1 src=glibc
    step xz        "$s" xz -T2 -2 --block-size=1MiB -c <slice.txt
    step xz.d      "$s" xz -T2 -dc <$src.xz
    step zstd      "$s" zstd -q -T2 -6 -c <data.txt
    step zstd.long "$s" zstd -q -T2 -1 --long=26 -c <data.txt
    step zstd.d    "$s" zstd -q -dc --long=26 <$src.zstd.long
    step pigz      "$s" pigz -n -p 2 -6 -c <data.txt
    step pigz.d    "$s" pigz -p 2 -dc <$src.pigz
    step sort.k    "$s" sort --parallel=2 -S 8M -t "$(printf '\t')" -k3,3 -k2,2n data.txt
    step sort.u    "$s" sort --parallel=2 -S 64M -u -k1,1 data.txt
    step sort.n    "$s" sort --parallel=2 -s -n -t "$(printf '\t')" -k2,2 data.txt
    step pythreads "$s" "$PY" pool.py data.txt
    rm -f "$s".sort.* "$s".pigz.d "$s".xz.d "$s".zstd.d
}
t0=$SECONDS; steps glibc; tg=$((SECONDS - t0))
t0=$SECONDS; steps pre;   tp=$((SECONDS - t0))
echo "  glibc ${tg}s, preloaded ${tp}s ($(tr '\n' ' ' <times.pre))"

ndiff=$(diff <(grep -v '^ ' results.glibc) <(grep -v '^ ' results.pre) | grep -c '^>' || true)
if grep -q 'rc=[1-9]' results.glibc; then
    bad "a step failed on glibc:"; grep -A5 'rc=[1-9]' results.glibc | sed 's/^/        /'
fi
if [ "$ndiff" -eq 0 ]; then
    ok "all $(wc -l <results.glibc) steps: same exit status and output"
else
    bad "$ndiff steps differ from glibc"
    diff -u --label glibc --label ptalloc results.glibc results.pre | sed -n '3,40s/^/        /p'
fi
# round trips (on the glibc side, so a broken reference is noticed too)
orig=$(sha256sum <data.txt | cut -c1-16); sl=$(sha256sum <slice.txt | cut -c1-16)
for f in results.glibc results.pre; do
    grep -q "^xz.d .* $sl " "$f" && grep -q "^zstd.d .* $orig " "$f" && grep -q "^pigz.d .* $orig " "$f" \
        && ok "round trips ($f)" || bad "a decompression did not give back the input ($f)"
done
cmp -s glibc.pythreads pre.pythreads || diff glibc.pythreads pre.pythreads | sed -n '1,20s/^/        /p'
finish
