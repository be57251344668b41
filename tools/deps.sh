#!/usr/bin/env bash
# Installs the Debian packages a make target needs, when they are missing.
# Only the command, tests and benchmarks need them; the library depends
# on libc alone.
#   tools/deps.sh test|bench|fuzz|cmd
# (test: chromium, its driver and python3-selenium are for tests/cmd/html.sh,
# which runs Debian's /usr/bin/python3, the one python3-selenium is for.)
set -eu
case "${1:-test}" in
    test)  pkgs="python3 libpython3.11-testsuite sqlite3 git gcc valgrind clang libclang-rt-14-dev lua5.4 xz-utils zstd pigz heaptrack chromium chromium-driver python3-selenium" ;;
    bench) pkgs="libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0 python3 valgrind" ;;
    fuzz)  pkgs="clang libclang-rt-14-dev" ;;
    cmd)   pkgs="libdw-dev g++ zlib1g-dev" ;;
    *) echo "deps.sh: unknown set $1" >&2; exit 2 ;;
esac
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null || true
$SUDO apt-get install -y -qq $missing >/dev/null
