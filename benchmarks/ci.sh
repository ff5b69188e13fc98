#!/usr/bin/env bash
# Every benchmark in a short mode, so none of them rots: BenchmarkDotNet's dry job over every suite on small inputs,
# then the side-by-side comparison with peers on small images. Results are kept under artifacts/benchmarks/. A
# benchmark that crashes fails this script; a ratio never does (2-core machines are noisy).
set -euo pipefail
cd "$(dirname "$0")/.."
out=artifacts/benchmarks
mkdir -p "$out"
(
    # The Azurite suite seeds into a real emulator; every other suite ignores it.
    source scripts/azurite.sh
    start_azurite >/dev/null
    REPL_BENCH_MAX_MIB=16 dotnet run -c Release --project benchmarks/Replication.Benchmarks -- \
        --filter '*' --job dry --exporters github json --artifacts "$out/bdn"
)
dotnet run -c Release --project benchmarks/Replication.Benchmarks -- cycle-cost 64 16 1 | tee "$out/cycle-cost.md"
SHORT=1 benchmarks/host-load.sh | tee "$out/host-load.md"
SHORT=1 SITE=azurite benchmarks/host-load.sh | tee "$out/host-load-azurite.md"
SIZE_MIB=64 RUNS=3 OUT="$out" ONLY="P15 P1 P2 P3 P6 P7 P9 P11" benchmarks/compare.sh
SIZE_MIB=64 PENDING_MIB=4 RUNS=1 benchmarks/failover.sh | tee "$out/failover.md"
