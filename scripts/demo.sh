#!/usr/bin/env bash
# The main job: a replication demo on the embedded default target, a local directory. Builds `repl`, makes a 256 MiB
# disk, seeds a replica site from it, changes the disk through a Hyper-V Replica Log (MS-HRL) delta, re-seeds the site
# by block manifest (only what changed crosses), downloads the replica and checks it byte for byte.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build samples/Replication.Cli -c Release -nologo -v q
repl() { dotnet samples/Replication.Cli/bin/Release/net10.0/repl.dll "$@"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== a 256 MiB disk with scattered data, as a dynamic VHDX ($work)"
repl disk create "$work/v1.raw" --size 256MiB --format raw --json
for i in 3 40 41 97 180 255; do
    head -c 1048576 /dev/urandom | dd of="$work/v1.raw" bs=1M seek="$i" conv=notrunc status=none
done
repl disk convert "$work/v1.raw" "$work/disk.vhdx" --format vhdx --type dynamic --json

echo "== initial replication to the recovery site (a local directory; the replica is a fixed VHD)"
repl upload "$work/disk.vhdx" --target "$work/site" --create --json

echo "== the disk changes: a few 4 KiB writes, carried as one sealed HRL log"
cp "$work/v1.raw" "$work/v2.raw"
for page in 100 20000 45000 60001; do
    head -c 4096 /dev/urandom | dd of="$work/v2.raw" bs=4096 seek="$page" conv=notrunc status=none
done
repl hrl diff "$work/v1.raw" "$work/v2.raw" -o "$work/delta.hrl" --json
repl hrl dump "$work/delta.hrl" >/dev/null
repl hrl apply "$work/disk.vhdx" "$work/delta.hrl" --json

echo "== delta cycle: re-seed by block manifest; only the changed pages cross"
repl upload "$work/disk.vhdx" --target "$work/site" --json

echo "== failover check: download the replica and compare it with the source"
repl download --target "$work/site" "$work/recovered.raw" --format raw --json
cmp "$work/v2.raw" "$work/recovered.raw"
repl disk info "$work/site/replica.vhd" 2>/dev/null || true
echo "replication OK: the recovered disk equals the source byte for byte"
