#!/usr/bin/env bash
# The symbolizer (cmd/symbols.c): build/tests/cmd/symbols_test, built PIE
# and not, looks itself up through its own /proc/self/maps (see there),
# with a C++ shared object built here with g++ and a copy of it that the
# test deletes after loading.  It runs on the variant's library, as the
# command that links the symbolizer runs on ptalloc.
set -u
cd "$(dirname "$0")/../.."
lib=${PTALLOC_LIB:-$PWD/build/libptalloc.so}
for t in symbols_test symbols_test_nopie; do
    [ -x "build/tests/cmd/$t" ] || { echo "cmd/symbols: build/tests/cmd/$t missing (make tests)"; exit 2; }
done
command -v g++ >/dev/null || { echo "cmd/symbols: g++ missing (tools/deps.sh cmd)"; exit 2; }
tmp=$(mktemp -d /tmp/ptalloc-symbols.XXXXXX) || exit 2
trap 'rm -rf "$tmp"' EXIT

# Each entry point returns a return address inside a known function and
# the line of that call: a template member (a demangled name) and a
# function inlined into its caller (the innermost function is named).
cat >"$tmp/symcxx.cc" <<'EOF'
#define NOINLINE __attribute__((noinline, noclone))
extern "C" NOINLINE void *symt_ret() { void *ra = __builtin_return_address(0); asm volatile("" : "+r"(ra)); return ra; }
namespace symt {
template <class T> struct Box {
    NOINLINE static void *where(T *line)
    {
        void *ra = symt_ret(); *line = __LINE__;
        asm volatile("" : "+r"(ra));
        return ra;
    }
};
inline __attribute__((always_inline)) void *inl(int *line)
{
    void *ra = symt_ret(); *line = __LINE__;
    return ra;
}
}
extern "C" void *symt_member(int *line) { return symt::Box<int>::where(line); }
extern "C" void *symt_inlined(int *line)
{
    void *ra = symt::inl(line);
    asm volatile("" : "+r"(ra));
    return ra;
}
EOF
g++ -std=c++11 -O2 -g -fPIC -shared "$tmp/symcxx.cc" -o "$tmp/libsymcxx.so" || { echo "cmd/symbols: g++ failed"; exit 2; }

fails=0
for t in symbols_test symbols_test_nopie; do
    cp "$tmp/libsymcxx.so" "$tmp/libsymcxx-gone.so"
    echo "== $t"
    LD_PRELOAD=$lib "build/tests/cmd/$t" "$tmp/libsymcxx.so" "$tmp/libsymcxx-gone.so" ||
        { echo "FAIL: $t"; fails=$((fails + 1)); }
done
[ $fails -eq 0 ]
