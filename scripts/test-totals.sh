#!/usr/bin/env bash
# Sums the counters of every TRX file under a folder and prints "N passed, N failed".
# Exits non-zero when a test failed or when no test ran at all.
set -euo pipefail
dir=${1:-artifacts/test-results}
passed=0; failed=0; total=0
shopt -s nullglob
for trx in "$dir"/*.trx; do
    counters=$(grep -o '<Counters [^>]*' "$trx" | head -n 1)
    get() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
    passed=$((passed + $(get passed)))
    failed=$((failed + $(get failed)))
    total=$((total + $(get total)))
done
echo "$passed passed, $failed failed"
if ((failed > 0 || passed == 0)); then
    exit 1
fi
