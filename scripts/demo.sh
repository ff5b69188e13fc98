#!/usr/bin/env bash
# The main job: builds the repl CLI and runs a disk round trip on a generated image: raw -> VHDX (dynamic) ->
# VHD (fixed, Azure-sized) -> raw, checking the bytes at the end. Grows into a full replication demo.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build samples/Replication.Cli -c Release -nologo -v q
repl() { dotnet samples/Replication.Cli/bin/Release/net10.0/repl.dll "$@"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== generating a 256 MiB raw image with scattered data in $work"
repl disk create "$work/source.raw" --size 256MiB --format raw --json
for i in 3 40 41 97 180 255; do
    head -c 1048576 /dev/urandom | dd of="$work/source.raw" bs=1M seek="$i" conv=notrunc status=none
done

echo "== raw -> dynamic VHDX"
repl disk convert "$work/source.raw" "$work/disk.vhdx" --format vhdx --type dynamic --json
repl disk info "$work/disk.vhdx"
echo "== VHDX -> fixed VHD for Azure"
repl disk convert "$work/disk.vhdx" "$work/disk.vhd" --format vhd --type fixed --azure --json
echo "== VHD -> raw"
repl disk convert "$work/disk.vhd" "$work/back.raw" --format raw --json
cmp "$work/source.raw" "$work/back.raw"
echo "round trip OK: the image survived raw -> VHDX -> VHD -> raw byte for byte"
