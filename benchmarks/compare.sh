#!/usr/bin/env bash
# Side-by-side comparison with peer tools (PERFORMANCE.md). Builds the CLI once in Release, generates the inputs,
# installs missing peers, then runs ours and the peer's alternately RUNS times each and prints one Markdown table
# of medians and ratios (ours / peer; lower is better).
#
#   benchmarks/compare.sh                 # full size (1 GiB images, 5 runs each)
#   SIZE_MIB=64 RUNS=3 benchmarks/compare.sh   # the short mode CI uses
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-5}
OUT=${OUT:-artifacts/benchmarks}
mkdir -p "$OUT"

need=()
command -v qemu-img >/dev/null || need+=(qemu-utils)
[[ -x /usr/bin/time ]] || need+=(time)
if ((${#need[@]})); then
    sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

dotnet build samples/Replication.Cli -c Release -nologo -v q >/dev/null
repl=(dotnet samples/Replication.Cli/bin/Release/net10.0/repl.dll)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Runs a command, prints "seconds peak-KiB".
measure() {
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || { cat "$work/stderr" >&2; return 1; }
    cat "$work/time"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

rows=()
# P2: dynamic VHDX -> raw, half of the 32 MiB blocks zero.
blocks=$((SIZE_MIB / 32)); ((blocks > 0)) || blocks=1
truncate -s "${SIZE_MIB}M" "$work/p2.raw"
for ((b = 0; b < blocks; b += 2)); do
    head -c $((32 << 20)) /dev/urandom | dd of="$work/p2.raw" bs=1M seek=$((b * 32)) conv=notrunc status=none
done
qemu-img convert -f raw -O vhdx -o subformat=dynamic "$work/p2.raw" "$work/p2.vhdx"
ours=(); peer=(); ours_mem=(); peer_mem=()
for ((i = 0; i < RUNS; i++)); do
    rm -f "$work/ours.raw" "$work/peer.raw"
    read -r s m < <(measure "${repl[@]}" disk convert "$work/p2.vhdx" "$work/ours.raw" --format raw); ours+=("$s"); ours_mem+=("$m")
    read -r s m < <(measure qemu-img convert -f vhdx -O raw "$work/p2.vhdx" "$work/peer.raw"); peer+=("$s"); peer_mem+=("$m")
done
cmp "$work/ours.raw" "$work/p2.raw"
cmp "$work/peer.raw" "$work/p2.raw"
o=$(printf '%s\n' "${ours[@]}" | median); p=$(printf '%s\n' "${peer[@]}" | median)
om=$(printf '%s\n' "${ours_mem[@]}" | median); pm=$(printf '%s\n' "${peer_mem[@]}" | median)
rows+=("| P2 | dynamic VHDX → raw, ${SIZE_MIB} MiB, half the blocks zero | ${o} s | qemu-img convert ${p} s | $(awk -v a="$o" -v b="$p" 'BEGIN{printf "%.2f", a/b}') | ≤ 0.8 | — | $((om / 1024)) MiB vs $((pm / 1024)) MiB |")

# P6 (change tracking): apply a sealed HRL log to a replica file, against dd writing the same byte count with
# conv=fdatasync. The log is `repl hrl diff` of two images that differ in a quarter of their 64 KiB blocks (random) or
# in every other 1 MiB (runs); ours includes checking the log's XxHash128 sidecar, coalescing and a final flush.
p6_base="$work/p6-base.img"
head -c $((SIZE_MIB << 20)) /dev/urandom > "$p6_base"
for shape in random runs; do
    changed="$work/p6-$shape.img"
    cp "$p6_base" "$changed"
    if [[ $shape == random ]]; then
        blocks=$((SIZE_MIB * 16))
        for ((k = 0; k < blocks / 4; k++)); do
            dd if=/dev/urandom of="$changed" bs=64K count=1 seek=$(( (RANDOM * 32768 + RANDOM) % blocks )) conv=notrunc status=none
        done
    else
        for ((m = 0; m < SIZE_MIB; m += 2)); do
            dd if=/dev/urandom of="$changed" bs=1M count=1 seek=$m conv=notrunc status=none
        done
    fi
    rm -f "$work/p6.hrl" "$work/p6.hrl.xxh128"
    "${repl[@]}" hrl diff "$p6_base" "$changed" -o "$work/p6.hrl" --json > "$work/p6-diff.json"
    bytes=$(sed -E 's/.*"dataBytes":([0-9]+).*/\1/' "$work/p6-diff.json")
    head -c "$bytes" /dev/urandom > "$work/p6-payload.bin"
    ours=(); peer=(); ours_mem=(); peer_mem=()
    for ((i = 0; i < RUNS; i++)); do
        cp "$p6_base" "$work/p6-ours.img"
        cp "$p6_base" "$work/p6-peer.img"
        sync
        read -r s m < <(measure "${repl[@]}" hrl apply "$work/p6-ours.img" "$work/p6.hrl"); ours+=("$s"); ours_mem+=("$m")
        read -r s m < <(measure dd if="$work/p6-payload.bin" of="$work/p6-peer.img" bs=1M conv=notrunc,fdatasync status=none); peer+=("$s"); peer_mem+=("$m")
    done
    cmp "$work/p6-ours.img" "$changed"
    o=$(printf '%s\n' "${ours[@]}" | median); p=$(printf '%s\n' "${peer[@]}" | median)
    om=$(printf '%s\n' "${ours_mem[@]}" | median); pm=$(printf '%s\n' "${peer_mem[@]}" | median)
    rows+=("| P6 | apply a sealed log to a ${SIZE_MIB} MiB replica: $((bytes >> 20)) MiB in $shape extents | ${o} s | dd conv=fdatasync ${p} s | $(awk -v a="$o" -v b="$p" 'BEGIN{printf "%.2f", a/b}') | ≤ 1.43 (throughput ≥ 0.7) | $((bytes >> 20)) MiB written | $((om / 1024)) MiB vs $((pm / 1024)) MiB |")
done
rm -f "$work"/p6-*

{
    echo "Side by side, medians of $RUNS alternating runs each, $(nproc) cores, $(date -u +%Y-%m-%d)."
    echo
    echo "| id | work | ours | peer | ratio | target | bytes sent | peak memory (ours vs peer) |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${rows[@]}"
} | tee "$OUT/compare.md"
