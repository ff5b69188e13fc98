#!/usr/bin/env bash
# The main job: the whole replication life cycle on the embedded default site, a local directory. Builds `repl` and
# runs `repl demo`: a generated 256 MiB VHDX is written through its change tracker by a random workload while it is
# protected and while delta cycles run; then a test failover, a planned failover, commit, writes at the recovery side,
# a failback that minimises downtime, and reverse replication. Every recovery point, the recovered disks and the
# failed-back disk are checked byte for byte; the demo exits non-zero if any differs.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build samples/Replication.Cli -c Release -nologo -v q
dotnet samples/Replication.Cli/bin/Release/net10.0/repl.dll demo "$@"
