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
if ((failed > 0)); then
    # Name each failed test and the first lines of its message, so a CI log says what broke without the TRX.
    python3 - "$dir" <<'PY' || true
import glob, sys, xml.etree.ElementTree as ET
for trx in sorted(glob.glob(sys.argv[1] + "/*.trx")):
    for el in ET.parse(trx).iter():
        if el.tag.endswith("UnitTestResult") and el.get("outcome") == "Failed":
            message = next((m.text or "" for m in el.iter() if m.tag.endswith("Message")), "")
            print("FAILED", el.get("testName"))
            for line in message.strip().splitlines()[:6]:
                print("    " + line[:300])
PY
fi
echo "$passed passed, $failed failed"
if ((failed > 0 || passed == 0)); then
    exit 1
fi
