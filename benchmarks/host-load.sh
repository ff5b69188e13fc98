#!/usr/bin/env bash
# PERFORMANCE.md P16: one replication host, 100 items each written at 100 KB/s through its tracked disk, a 30 s copy
# frequency, a local site, ten minutes; prints the worst RPO seen, memory (first / peak / last) and CPU per item as a
# Markdown table. SHORT=1 runs 10 items for 60 s (what CI runs). SITE=azurite replicates to an Azure site instead, on
# Azurite started here (16 items by default: P16's Azure variant). Everything lives in a temp folder removed at the end.
#   benchmarks/host-load.sh                            # the P16 figure (about 12 minutes with protection)
#   SITE=azurite benchmarks/host-load.sh               # P16's 16 items to Azurite, ten minutes
#   SHORT=1 benchmarks/host-load.sh                    # CI
#   SHORT=1 SITE=azurite benchmarks/host-load.sh       # CI: 16 items to Azurite for 60 s
#   ITEMS=16 SECONDS_RUN=120 benchmarks/host-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
case "${SITE:-local}" in
    local) all=100 short=10 ;;
    azurite)
        all=16 short=16
        source scripts/azurite.sh
        start_azurite >/dev/null
        export REPL_HOST_LOAD_AZURE="$REPL_AZURITE_CONNECTION_STRING"
        ;;
    *) echo "SITE must be local or azurite (is '$SITE')" >&2; exit 2 ;;
esac
if [[ "${SHORT:-0}" == 1 ]]; then
    items=${ITEMS:-$short} seconds=${SECONDS_RUN:-60}
else
    items=${ITEMS:-$all} seconds=${SECONDS_RUN:-600}
fi
dotnet run -c Release --project benchmarks/Replication.Benchmarks -- host-load "$items" "$seconds" "${KBPS:-100}" "${FREQUENCY:-30}" "${DISK_MIB:-16}"
