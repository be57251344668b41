#!/usr/bin/env bash
# The C compilers on ptalloc, compared with the same compilers on glibc.
#   Debian packages: gcc, clang (and python3 to generate the source)
#
# A generated C program (about 10k lines at release size, 40 system headers,
# a few hundred functions: switch tables, recursion, floating point,
# snprintf, linked lists, qsort) is compiled with -O2 -g by
#   gcc (driver, cc1, as, collect2/ld all preloaded: they inherit LD_PRELOAD),
#   gcc -flto=2 (lto-wrapper, lto1 partitions run in parallel),
#   clang,
# once on glibc and once preloaded. The object files and linked executables
# must be byte-identical, the compilers' diagnostics identical, and the
# programs must print the same thing (run on glibc and preloaded). Each
# generated group also carries a few warnings, so diagnostics get compared.
source "$(dirname "$0")/common.bash"
need gcc clang objdump
PY=/usr/bin/python3
check_preload
cd "$T"

if [ "$QUICK" = 1 ]; then N=50; else N=150; fi

cat >gen.py <<'EOF'
import sys
N = int(sys.argv[1])          # number of generated function groups
out = []
w = out.append
for h in ["stdio.h","stdlib.h","string.h","stdint.h","inttypes.h","math.h","ctype.h",
          "limits.h","errno.h","assert.h","time.h","signal.h","setjmp.h","stdarg.h",
          "stddef.h","stdbool.h","complex.h","wchar.h","wctype.h","locale.h","fenv.h",
          "unistd.h","fcntl.h","pthread.h","sys/types.h","sys/stat.h","sys/mman.h",
          "sys/socket.h","netinet/in.h","arpa/inet.h","netdb.h","dirent.h","poll.h",
          "regex.h","search.h","glob.h","dlfcn.h","termios.h","sys/wait.h","sys/time.h"]:
    w("#include <%s>" % h)
w("""
typedef struct { uint32_t a, b; uint64_t c; char name[24]; double d; } rec_t;
static uint64_t mix(uint64_t x) { x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL; x ^= x >> 33; return x; }
#define ROTL(x, r) (((x) << (r)) | ((x) >> (64 - (r))))
""")
for i in range(N):
    k = i * 7 + 3
    w("static const uint16_t tab_%d[64] = {%s};" % (i, ",".join(str((i * 131 + j * 977) % 65521) for j in range(64))))
    w("static const char *const str_%d[] = {%s};" % (i, ",".join('"s%d_%d_%s"' % (i, j, "abcdefgh"[: j % 8]) for j in range(8))))
    w("""
struct node_%(i)d { struct node_%(i)d *next; int v; rec_t r; };
static uint64_t sw_%(i)d(uint64_t x, int n) {
  uint64_t acc = %(k)d;
  for (int j = 0; j < n; j++) {
    switch ((x + j) %% 13) {
%(cases)s
      default: acc = ROTL(acc, 7) ^ x; break;
    }
    x = mix(x + tab_%(i)d[j & 63]);
  }
  return acc;
}
static uint64_t rec_%(i)d(int depth, uint64_t seed) {
  if (depth <= 0) return seed ^ %(k)d;
  return rec_%(i)d(depth - 1, mix(seed)) + (depth & 1 ? rec_%(i)d(depth - 2, seed + %(k)d) : 0);
}
static double fp_%(i)d(int n) {
  double s = 0.0;
  for (int j = 1; j <= n; j++) s += sin(j * 0.01 * %(k)d) / j + sqrt((double)(j + %(i)d));
  return s;
}
static uint64_t str_fn_%(i)d(void) {
  char buf[256]; uint64_t h = 1469598103934665603ULL;
  for (int j = 0; j < 8; j++) {
    int m = snprintf(buf, sizeof buf, "%%s-%%d-%%x-%%.3f", str_%(i)d[j], j * %(k)d, (unsigned)tab_%(i)d[j], j / 7.0);
    for (int q = 0; q < m; q++) h = (h ^ (unsigned char)buf[q]) * 1099511628211ULL;
  }
  return h;
}
static int cmp_%(i)d(const void *a, const void *b) {
  const rec_t *x = a, *y = b;
  if (x->c != y->c) return x->c < y->c ? -1 : 1;
  return strcmp(x->name, y->name);
}
static uint64_t list_%(i)d(int n) {
  struct node_%(i)d *head = NULL; uint64_t h = 0;
  rec_t *arr = malloc(sizeof(rec_t) * n);
  for (int j = 0; j < n; j++) {
    struct node_%(i)d *p = malloc(sizeof *p);
    p->v = j; p->r.a = j * %(k)d; p->r.b = tab_%(i)d[j & 63]; p->r.c = mix(j + %(k)d) %% 1000;
    snprintf(p->r.name, sizeof p->r.name, "n%%d", j %% 17); p->r.d = j * 0.5;
    arr[j] = p->r; p->next = head; head = p;
  }
  qsort(arr, n, sizeof *arr, cmp_%(i)d);
  for (int j = 0; j < n; j++) h = mix(h ^ arr[j].c ^ arr[j].a);
  while (head) { struct node_%(i)d *nx = head->next; h += head->v; free(head); head = nx; }
  free(arr);
  return h;
}
static int warn_%(i)d(int x, int y) { int unused_%(i)d; return x; }  /* diagnostics */
uint64_t group_%(i)d(void) {
  return sw_%(i)d(%(k)d, 200) ^ rec_%(i)d(12, %(i)d) ^ (uint64_t)(fp_%(i)d(50) * 1000) ^ str_fn_%(i)d() ^ list_%(i)d(50 + %(i)d %% 50);
}
""" % dict(i=i, k=k, cases="\n".join("      case %d: acc = acc * %d + (x >> %d) + tab_%d[%d]; break;" % (c, 2 * c + 3, c + 1, i, (c * 5) % 64) for c in range(12))))
w("int main(void) {\n  uint64_t total = 0;")
for i in range(N):
    w("  { uint64_t g = group_%d(); total = mix(total ^ g);%s }" % (i, ' printf("group %d %%016" PRIx64 "\\n", g);' % i if i % 25 == 0 else ""))
w('  printf("total %016" PRIx64 "\\n", total);\n  return 0;\n}')
print("\n".join(out))
EOF
"$PY" gen.py "$N" >prog.c
echo "  prog.c: $(wc -l <prog.c) lines"

# build NAME SIDE cmd...: SIDE is glibc or pre; records exit status and
# diagnostics in NAME.SIDE.{rc,err}
build() {
    local name=$1 side=$2 rc=0; shift 2
    local t0=$SECONDS
    $side 600 "$@" >"$name.$side.err" 2>&1 || rc=$?
    echo "$rc" >"$name.$side.rc"
    echo "$((SECONDS - t0))" >"$name.$side.time"
}

# compare_build NAME KIND: same exit status and diagnostics, and the glibc
# and preloaded outputs NAME.{glibc,pre} (an object or an executable) must be
# byte-identical. One line when all is well.
compare_build() {
    local name=$1 kind=$2 nf=$NFAIL
    local r p; r=$(cat "$name.glibc.rc"); p=$(cat "$name.pre.rc")
    if [ "$r" -ne 0 ] || [ "$p" -ne "$r" ]; then
        status_logs "$name" "$r" "$p" "$name.glibc.err" "$name.pre.err"
    fi
    cmp -s "$name.glibc.err" "$name.pre.err" || same "$name diagnostics" "$name.glibc.err" "$name.pre.err"
    if [ ! -f "$name.glibc" ] || [ ! -f "$name.pre" ]; then
        bad "$name: no $kind produced"
    elif ! cmp -s "$name.glibc" "$name.pre"; then
        bad "$name: $kind differs from the glibc build"
        # (the disassembly minus its header, which names the file)
        objdump -d "$name.glibc" 2>&1 | sed '1,3d' >"$name.glibc.dis" || true
        objdump -d "$name.pre"   2>&1 | sed '1,3d' >"$name.pre.dis"   || true
        diff -u --label "glibc/$name" --label "ptalloc/$name" "$name.glibc.dis" "$name.pre.dis" \
            | sed -n '1,40s/^/        /p' || true
    fi
    [ "$NFAIL" -eq "$nf" ] && ok "$name: $kind identical ($(stat -c %s "$name.pre") bytes), \
$(wc -l <"$name.pre.err") diagnostic lines identical, glibc $(cat "$name.glibc.time")s, preloaded $(cat "$name.pre.time")s"
    return 0
}

# run_prog EXE: the produced program, run on glibc and preloaded, must print
# the reference output (that of the gcc build on glibc)
run_prog() {
    local exe=$1 nf=$NFAIL r=0 p=0
    [ -x "$exe" ] || return 0
    glibc 60 "./$exe" >"$exe.out.glibc" 2>&1 || r=$?
    pre   60 "./$exe" >"$exe.out.pre"   2>&1 || p=$?
    [ "$r" -eq 0 ] && [ "$p" -eq 0 ] || status "run $exe" "$r" "$p"
    cmp -s ref.out "$exe.out.glibc" || same "run $exe (glibc)" ref.out "$exe.out.glibc"
    cmp -s ref.out "$exe.out.pre"   || same "run $exe (preloaded)" ref.out "$exe.out.pre"
    [ "$NFAIL" -eq "$nf" ] && ok "run $exe on glibc and preloaded: reference output"
    return 0
}

for side in glibc pre; do
    # gcc: compile, then link through collect2/ld
    build gcc.o  "$side" gcc -O2 -g -Wall -Wextra -c prog.c -o "gcc.o.$side"
    build gcc.exe "$side" gcc "gcc.o.$side" -o "gcc.exe.$side" -lm
    # gcc link-time optimisation, parallel partitions
    build gcc-lto.exe "$side" gcc -O2 -flto=2 -flto-partition=balanced --param lto-partitions=4 prog.c -o "gcc-lto.exe.$side" -lm
    # clang
    build clang.o "$side" clang -O2 -g -Wall -c prog.c -o "clang.o.$side"
    build clang.exe "$side" clang "clang.o.$side" -o "clang.exe.$side" -lm
done
# outputs are named NAME.SIDE; compare_build wants NAME.glibc / NAME.pre
for name in gcc.o gcc.exe gcc-lto.exe clang.o clang.exe; do
    compare_build "$name" "$( [[ $name == *.o ]] && echo object || echo executable)"
done

[ -x gcc.exe.glibc ] && ./gcc.exe.glibc >ref.out 2>&1 || { bad "reference program failed"; finish; exit 1; }
echo "  program output: $(wc -l <ref.out) lines, $(tail -n 1 ref.out)"
for exe in gcc.exe.pre gcc-lto.exe.pre clang.exe.pre; do run_prog "$exe"; done

finish
