#!/usr/bin/env bash
# PERFORMANCE.md P16: one replication host, 100 items each written at 100 KB/s through its tracked disk, a 30 s copy
# frequency, a local site, ten minutes; prints the worst RPO seen, memory (first / peak / last) and CPU per item as a
# Markdown table. SHORT=1 runs 10 items for 60 s (what CI runs). Everything lives in a temp folder removed at the end.
#   benchmarks/host-load.sh                 # the P16 figure (about 12 minutes with protection)
#   SHORT=1 benchmarks/host-load.sh         # CI
#   ITEMS=16 SECONDS_RUN=120 benchmarks/host-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${SHORT:-0}" == 1 ]]; then
    items=${ITEMS:-10} seconds=${SECONDS_RUN:-60}
else
    items=${ITEMS:-100} seconds=${SECONDS_RUN:-600}
fi
dotnet run -c Release --project benchmarks/Replication.Benchmarks -- host-load "$items" "$seconds" "${KBPS:-100}" "${FREQUENCY:-30}" "${DISK_MIB:-16}"
