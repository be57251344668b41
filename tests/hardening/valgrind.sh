#!/usr/bin/env bash
# memcheck on a program running on ptalloc: the planted leak, read after
# free, overrun and uninitialised read are all reported (ptalloc tells
# memcheck about its blocks with client requests) and nothing else is, and
# a correct program gets no report at all.
set -euo pipefail
command -v valgrind >/dev/null || { echo "valgrind is not installed (tools/deps.sh test installs it)"; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cc -O0 -g "$here/valgrind/planted.c" -o "$tmp/planted"
cc -O1 -g -pthread "$here/valgrind/clean.c" -o "$tmp/clean"
vg() { LD_PRELOAD="$PTALLOC_LIB" timeout 300 valgrind --soname-synonyms=somalloc=NONE \
        --leak-check=full --track-origins=no "$@"; }

vg "$tmp/planted" > "$tmp/planted.out" 2>&1 || true
fail=0
expect() {
    if grep -q -- "$1" "$tmp/planted.out"; then echo "ok: $2"
    else echo "MISSING: $2 ($1)"; fail=1; fi
}
expect "planted: done" "the program ran to its end"
expect "Invalid read of size 1" "read after free reported"
expect "inside a block of size 64 free'd" "read after free located in the freed block"
expect "0 bytes after a block of size 10 alloc'd" "one-byte overrun reported"
expect "Conditional jump or move depends on uninitialised value" "uninitialised read reported"
expect "100 bytes in 1 blocks are definitely lost" "the leak reported as definite"
expect "ERROR SUMMARY: 4 errors from 4 contexts" "the four planted errors (the leak counts) and no other, none inside ptalloc"
# memcheck's own malloc shows as "malloc (in .../vgpreload_memcheck...)".
if grep -q "Block was alloc'd" "$tmp/planted.out" && ! grep -q "alloc (in /usr/libexec/valgrind" "$tmp/planted.out"; then
    echo "ok: ptalloc served the blocks"
else echo "MISSING: ptalloc did not serve the blocks (memcheck replaced malloc?)"; fail=1; fi

vg --error-exitcode=9 "$tmp/clean" > "$tmp/clean.out" 2>&1 || { echo "clean program: memcheck reported errors"; fail=1; }
if grep -q "ERROR SUMMARY: 0 errors" "$tmp/clean.out" && grep -q "All heap blocks were freed" "$tmp/clean.out"; then
    echo "ok: a correct program gets no report and no leak"
else
    echo "clean program output:"; grep -E "==[0-9]+== " "$tmp/clean.out" | head -60; fail=1
fi
[ $fail -eq 0 ] || { echo "--- planted output"; cat "$tmp/planted.out" | head -80; }
exit $fail
