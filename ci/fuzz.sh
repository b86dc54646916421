#!/usr/bin/env bash
# ci/fuzz.sh TARGET COUNT MAX_SECONDS: runs one fuzz target of ./pkg/config
# for COUNT executions ("1000000x"), and never longer than MAX_SECONDS.
#
# Why both bounds: a duration alone (-fuzztime 20s) trips go1.26's coordinator
# race (golang/go#75804: "context deadline exceeded", no crasher), and a count
# alone has no wall-clock limit at all, since `go test -fuzz` ignores -timeout;
# a coordinator stalled at 0 execs/s (golang/go#51484) would then run until
# CI's own limit. At MAX_SECONDS, `timeout` sends SIGINT to the whole process
# group, which the coordinator takes as a normal stop and the test binary
# reports as PASS; the go command still exits 1 after any interrupt, so the
# output decides: an "ok" line and no failure means the bound was reached
# with nothing found. Any real failure exits non-zero as usual.
#
# -fuzzminimizetime 2s: Go minimizes every new interesting input for up to
# 60 s without counting it as fuzzing; with the default, a 20 s budget ran
# about 3 s of fuzzing (45,202 execs, then 0/s).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 3 ]; then
	echo "usage: ci/fuzz.sh TARGET COUNT MAX_SECONDS" >&2
	exit 64
fi
target=$1 count=$2 max=$3
log=$(mktemp)
trap 'rm -f "$log"' EXIT

timeout -s INT -k 30 "$max" \
	go test -run '^$' -fuzz "^${target}\$" -fuzztime "$count" -fuzzminimizetime 2s ./pkg/config 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
if [ "$rc" -eq 124 ] && grep -q '^ok ' "$log" && ! grep -q -e '^--- FAIL' -e '^FAIL' -e 'Failing input written' "$log"; then
	echo "fuzz: $target stopped at its ${max} s bound before $count execs, nothing found"
	exit 0
fi
exit "$rc"
