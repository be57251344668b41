#!/usr/bin/env bash
# The short fuzzing pass of `make test`: builds the libFuzzer target and runs
# it for what is left of FUZZ_TEST_SECONDS (default 60) after the build.
# Runs once, with the release variant: the fuzzer is its own build of the
# sources (debug asserts and UBSan on), whatever variant is being tested.
# Passes only when the run was clean and executed inputs.
set -u
cd "$(dirname "$0")/../.."

if [ "${PTALLOC_VARIANT:-release}" != release ]; then
    echo "fuzz: runs on the release variant only"
    exit 0
fi

budget=${FUZZ_TEST_SECONDS:-60}
t0=$SECONDS
tests/fuzz/run.sh --build || exit 1
left=$((budget - (SECONDS - t0) - 5))     # libFuzzer's start and final stats
[ $left -lt 10 ] && left=10
exec tests/fuzz/run.sh "$left"
