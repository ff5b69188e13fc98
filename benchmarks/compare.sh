#!/usr/bin/env bash
# Side-by-side comparison with peer tools (PERFORMANCE.md). Publishes the CLI once exactly as a user does
# (`dotnet publish -c Release`, no flags of its own: the project makes that a Native AOT executable), generates the
# inputs, installs missing peers, then runs ours and the peer's alternately RUNS times each and prints one Markdown
# table of medians and ratios (ours / peer; lower is better).
#
#   benchmarks/compare.sh                 # full size (1 GiB images, 5 runs each)
#   SIZE_MIB=64 RUNS=3 benchmarks/compare.sh   # the short mode CI uses
#   ONLY="P1 P3 P9" benchmarks/compare.sh      # some rows only (P7 also gives P8 and the seed's P9)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-5}
OUT=${OUT:-artifacts/benchmarks}
ONLY=${ONLY:-P15 P1 P2 P3 P6 P7 P9 P11}
mkdir -p "$OUT"
want() { [[ " $ONLY " == *" $1 "* ]]; }

need=()
command -v qemu-img >/dev/null || need+=(qemu-utils)
[[ -x /usr/bin/time ]] || need+=(time)
# Native AOT links the published executable with the platform's C toolchain.
command -v gcc >/dev/null || command -v clang >/dev/null || need+=(gcc)
command -v rsync >/dev/null || need+=(rsync)
command -v xxhsum >/dev/null || need+=(xxhash)
want P1 && { command -v qemu-io >/dev/null || need+=(qemu-utils); }
if want P11; then
    command -v qemu-nbd >/dev/null || need+=(qemu-utils)
    command -v fio >/dev/null || need+=(fio)
    command -v nbdinfo >/dev/null || need+=(libnbd-bin)
fi
if ((${#need[@]})); then
    sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Our side runs the CLI as it ships: `dotnet publish -c Release` of the tool project and nothing else, the executable a
# user gets. A publish that fails fails the comparison: no other build is measured in its place.
if ! dotnet publish samples/Replication.Cli -c Release -o "$work/repl" -nologo -v q >"$work/publish.log" 2>&1; then
    echo "dotnet publish of samples/Replication.Cli failed:" >&2
    tail -n 20 "$work/publish.log" >&2
    exit 1
fi
repl=("$work/repl/repl")
echo "ours: repl $("${repl[@]}" --version) as \`dotnet publish -c Release\` makes it" >&2

# Runs a command, prints "seconds peak-KiB cpu-seconds" (wall clock and user+sys CPU to the millisecond from bash's
# time, peak resident memory from /usr/bin/time); its standard output is kept in $work/stdout.
measure() {
    local TIMEFORMAT='%3R %3U %3S' r u s
    { time /usr/bin/time -f %M -o "$work/mem" "$@" >"$work/stdout" 2>"$work/stderr"; } 2>"$work/time" || { cat "$work/stderr" >&2; return 1; }
    read -r r u s <"$work/time"
    echo "$r $(tail -n 1 "$work/mem") $(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.3f", u + s}')"
}

# A field of the JSON object in $work/stdout.
json() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$work/stdout"; }

# Touches 1% of the 64 KiB regions of a file with one random 4 KiB-aligned 4 KiB write each (P1's change pattern).
touch_regions() {
    local file=$1 mib=$2 regions=$(($2 * 16)) n=$(($2 * 16 / 100))
    ((n > 0)) || n=1
    for region in $(shuf -i 0-$((regions - 1)) -n "$n"); do
        dd if=/dev/urandom of="$file" bs=4096 seek=$((region * 16 + RANDOM % 16)) count=1 conv=notrunc status=none
    done
    # A later modification time, so rsync's quick check (size and time) cannot skip the file.
    touch -m -d "@$(($(date +%s) + 120))" "$file"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
med() { printf '%s\n' "$@" | median; }
# The last two cells of a row: peak memory and CPU seconds (user+sys), medians, ours vs the peer's.
usage() { # ours-mem-name peer-mem-name ours-cpu-name peer-cpu-name (array names)
    local -n om=$1 pm=$2 oc=$3 pc=$4
    printf '%s MiB vs %s MiB | %s vs %s s' "$(($(med "${om[@]}") / 1024))" "$(($(med "${pm[@]}") / 1024))" "$(med "${oc[@]}")" "$(med "${pc[@]}")"
}

rows=()
if want P15; then
# P15: start-up of the CLI as users get it against qemu-img's: printing the version, and reading a small VHDX's header
# (`disk info` must load nothing it does not use). Each command 20 times, alternating; wall clock from date(1) around
# the bare command, then peak memory and CPU from a second run under measure (whose wrapper would add to the clock).
qemu-img create -q -f vhdx -o subformat=dynamic "$work/p15.vhdx" 1G
declare -A startup=()
for name in ours_version peer_version ours_info peer_info; do declare -a "${name}_mem=()" "${name}_cpu=()"; done
for ((i = 0; i < 20; i++)); do
    for spec in "ours_version|${repl[*]} --version" "peer_version|qemu-img --version" \
                "ours_info|${repl[*]} disk info $work/p15.vhdx" "peer_info|qemu-img info $work/p15.vhdx"; do
        name=${spec%%|*}; read -ra command <<<"${spec#*|}"
        start=$(date +%s%N); "${command[@]}" >/dev/null; end=$(date +%s%N)
        startup[$name]+="$(((end - start) / 1000)) "
        read -r s m c < <(measure "${command[@]}")
        declare -n mem_of=${name}_mem cpu_of=${name}_cpu; mem_of+=("$m"); cpu_of+=("$c"); unset -n mem_of cpu_of
    done
done
ms() { printf '%s\n' ${startup[$1]} | median | awk '{printf "%.1f", $1 / 1000}'; }
rows+=("| P15 | start-up: \`repl --version\` (medians of 20 alternating runs) | $(ms ours_version) ms | qemu-img --version $(ms peer_version) ms | $(ratio "$(ms ours_version)" "$(ms peer_version)") | ≤ 2 | — | $(usage ours_version_mem peer_version_mem ours_version_cpu peer_version_cpu) |")
rows+=("| P15 | start-up: \`repl disk info\` of a 1 GiB dynamic VHDX | $(ms ours_info) ms | qemu-img info $(ms peer_info) ms | $(ratio "$(ms ours_info)" "$(ms peer_info)") | (≤ 2) | — | $(usage ours_info_mem peer_info_mem ours_info_cpu peer_info_cpu) |")
rm -f "$work/p15.vhdx"
fi

if want P2; then
# P2: dynamic VHDX -> raw, half of the 32 MiB blocks zero. `repl disk convert` flushes its output before it reports
# success (a converted disk may be the source of a replica), so the like-for-like peer is `qemu-img convert -t
# writeback`, which flushes when it closes; qemu-img's default (cache=unsafe) never flushes and is shown too.
blocks=$((SIZE_MIB / 32)); ((blocks > 0)) || blocks=1
truncate -s "${SIZE_MIB}M" "$work/p2.raw"
for ((b = 0; b < blocks; b += 2)); do
    head -c $((32 << 20)) /dev/urandom | dd of="$work/p2.raw" bs=1M seek=$((b * 32)) conv=notrunc status=none
done
qemu-img convert -f raw -O vhdx -o subformat=dynamic "$work/p2.raw" "$work/p2.vhdx"
sync
ours=(); peer=(); unsafe=(); ours_mem=(); peer_mem=(); ours_cpu=(); peer_cpu=(); unsafe_mem=(); unsafe_cpu=()
for ((i = 0; i < RUNS; i++)); do
    rm -f "$work/ours.raw" "$work/peer.raw" "$work/unsafe.raw"; sync
    read -r s m c < <(measure "${repl[@]}" disk convert "$work/p2.vhdx" "$work/ours.raw" --format raw); ours+=("$s"); ours_mem+=("$m"); ours_cpu+=("$c")
    rm -f "$work/ours.raw"; sync
    read -r s m c < <(measure qemu-img convert -t writeback -f vhdx -O raw "$work/p2.vhdx" "$work/peer.raw"); peer+=("$s"); peer_mem+=("$m"); peer_cpu+=("$c")
    rm -f "$work/peer.raw"; sync
    read -r s m c < <(measure qemu-img convert -f vhdx -O raw "$work/p2.vhdx" "$work/unsafe.raw"); unsafe+=("$s"); unsafe_mem+=("$m"); unsafe_cpu+=("$c")
    sync
done
"${repl[@]}" disk convert "$work/p2.vhdx" "$work/ours.raw" --format raw >/dev/null
cmp "$work/ours.raw" "$work/p2.raw"
cmp "$work/unsafe.raw" "$work/p2.raw"
o=$(printf '%s\n' "${ours[@]}" | median); p=$(printf '%s\n' "${peer[@]}" | median); u=$(printf '%s\n' "${unsafe[@]}" | median)
rows+=("| P2 | dynamic VHDX → raw, ${SIZE_MIB} MiB, half the blocks zero, output flushed | ${o} s | qemu-img convert -t writeback ${p} s | $(ratio "$o" "$p") | ≤ 0.8 | — | $(usage ours_mem peer_mem ours_cpu peer_cpu) |")
rows+=("| P2 | the same against qemu-img's default cache=unsafe (never flushed) | ${o} s | qemu-img convert ${u} s | $(ratio "$o" "$u") | (≤ 0.8) | — | $(usage ours_mem unsafe_mem ours_cpu unsafe_cpu) |")
rm -f "$work"/p2.* "$work/ours.raw" "$work/peer.raw" "$work/unsafe.raw"
fi

if want P1; then
# P1: resync a pair, 1% of the 64 KiB regions of the source touched by a random 4 KiB write each.
# "cold": no target manifest and no kept source manifest, both sides hashed in full (rsync reads both sides too); the
# source was changed with dd.
# "warm": the product's steady state. The source is tracked: its change-tracking folder holds the source manifest the
# previous sync kept there (`repl disk sync --source-logs`), and the 1% of writes went through the tracker (`repl nbd
# serve --logs`, written by qemu-io over NBD), so the sync rehashes only the 1 MiB blocks those writes touched (checked:
# the run must report sourceManifestRefreshed); the target's manifest is the one the previous sync stored beside it, only
# sample-verified. Each run starts from a copy of the same folder and target, so every run does the same work.
head -c "${SIZE_MIB}M" /dev/urandom >"$work/p1.base"
cp "$work/p1.base" "$work/p1.src"
cp "$work/p1.base" "$work/p1.tgt"
touch_regions "$work/p1.src" "$SIZE_MIB"
"${repl[@]}" disk manifest "$work/p1.tgt" -o "$work/p1.tgt.manifest" >/dev/null
# The tracked source: a first sync keeps its manifest in the tracking folder, then the writes go through the tracker.
cp "$work/p1.base" "$work/p1.tsrc"
cp "$work/p1.base" "$work/p1.scratch"
p1_serve() { # starts the tracker over NBD on the source; sets p1_pid and p1_uri
    rm -f "$work/p1.events"
    "${repl[@]}" nbd serve "$work/p1.tsrc" --logs "$work/p1.logs" --listen 127.0.0.1:0 --export p1 --json >"$work/p1.events" 2>"$work/p1.err" &
    p1_pid=$!
    until grep -q '"listening"' "$work/p1.events" 2>/dev/null; do kill -0 "$p1_pid" || { cat "$work/p1.err" >&2; exit 1; }; sleep 0.05; done
    p1_uri=$(sed -n 's/.*"uri":"\([^"]*\)".*/\1/p' "$work/p1.events" | head -n 1)
}
# The tracker starts (and stops) once before anything is kept: only a tracker's clean close vouches for the file.
p1_serve; kill -TERM "$p1_pid"; wait "$p1_pid"
"${repl[@]}" disk sync "$work/p1.tsrc" "$work/p1.scratch" --source-logs "$work/p1.logs" >/dev/null
rm -f "$work"/p1.scratch*
p1_serve
p1_writes=()
regions=$((SIZE_MIB * 16)); n=$((SIZE_MIB * 16 / 100)); ((n > 0)) || n=1
for region in $(shuf -i 0-$((regions - 1)) -n "$n"); do
    p1_writes+=(-c "write -P $((RANDOM % 255 + 1)) $(((region * 16 + RANDOM % 16) * 4096)) 4k")
done
qemu-io -f raw "$p1_uri" "${p1_writes[@]}" >/dev/null
kill -TERM "$p1_pid"; wait "$p1_pid"
cp -a "$work/p1.logs" "$work/p1.logs.kept"
sync
for mode in cold warm; do
    src="$work/p1.src"; [[ $mode == warm ]] && src="$work/p1.tsrc"
    ours=(); peer=(); ours_mem=(); peer_mem=(); ours_cpu=(); peer_cpu=(); ours_bytes=(); peer_bytes=()
    for ((i = 0; i < RUNS; i++)); do
        rm -rf "$work/ours.tgt" "$work/ours.tgt.manifest" "$work/peer.tgt" "$work/p1.logs"
        cp -p "$work/p1.tgt" "$work/ours.tgt"
        extra=()
        if [[ $mode == warm ]]; then
            cp -p "$work/p1.tgt.manifest" "$work/ours.tgt.manifest"
            cp -a "$work/p1.logs.kept" "$work/p1.logs"
            extra=(--source-logs "$work/p1.logs")
        fi
        cp -p "$work/p1.tgt" "$work/peer.tgt"
        sync; cat "$src" "$work/ours.tgt" "$work/peer.tgt" >/dev/null
        read -r s m c < <(measure "${repl[@]}" disk sync "$src" "$work/ours.tgt" --json "${extra[@]}")
        ours+=("$s"); ours_mem+=("$m"); ours_cpu+=("$c"); ours_bytes+=("$(json bytesSent)")
        if [[ $mode == warm ]] && ! grep -q '"sourceManifestRefreshed":true' "$work/stdout"; then
            echo "P1 warm: the kept source manifest was not used: $(cat "$work/stdout")" >&2; exit 1
        fi
        cmp "$src" "$work/ours.tgt"
        # --ignore-times: a source changed in the same second as the target was made (CI's small inputs) has the target's
        # size and modification time, and rsync's quick check would skip it and leave the target different.
        read -r s m c < <(measure rsync --inplace --no-whole-file --ignore-times --stats "$src" "$work/peer.tgt")
        peer+=("$s"); peer_mem+=("$m"); peer_cpu+=("$c")
        peer_bytes+=("$(sed -n 's/^Total bytes sent: \([0-9,]*\).*/\1/p' "$work/stdout" | tr -d ,)")
        cmp "$src" "$work/peer.tgt"
    done
    o=$(printf '%s\n' "${ours[@]}" | median); p=$(printf '%s\n' "${peer[@]}" | median)
    ob=$(printf '%s\n' "${ours_bytes[@]}" | median); pb=$(printf '%s\n' "${peer_bytes[@]}" | median)
    what=$([[ $mode == cold ]] && echo "cold: both sides hashed" || echo "warm: tracked source, kept source manifest refreshed from the tracker's logs, stored target manifest")
    rows+=("| P1 | resync ${SIZE_MIB} MiB pair, 1% of 64 KiB regions touched ($what) | ${o} s | rsync --inplace --no-whole-file --ignore-times ${p} s | $(ratio "$o" "$p") | ≤ 0.33; bytes ≤ 0.5 | ${ob} vs ${pb} B ($(ratio "$ob" "$pb")) | $(usage ours_mem peer_mem ours_cpu peer_cpu) |")
done
rm -rf "$work"/p1.* "$work"/ours.tgt* "$work/peer.tgt"
fi

if want P3; then
# P3: block manifest of a 2×SIZE_MIB file in page cache against xxhsum -H3 of the same file. Not the same output: ours
# writes a manifest file (16 bytes per 4 KiB: 8 MiB for 2 GiB) and makes it and its directory durable (fsync) before it
# reports success, as its contract says; xxhsum prints one line and writes nothing durable. Both copy the file out of
# the page cache with read(2) (ours 1 MiB preads on every core, xxhsum 64 KiB freads on one), which is most of either's
# CPU time. On a machine shared with other sessions' work (sched_autogroup on) the kernel shares the cores between
# sessions, not threads: there our second core buys little and the ratio follows the CPU seconds in the last cell.
head -c "$((2 * SIZE_MIB))M" /dev/urandom >"$work/p3.img"
sync
cat "$work/p3.img" >/dev/null
ours=(); peer=(); ours_mem=(); peer_mem=(); ours_cpu=(); peer_cpu=()
for ((i = 0; i < RUNS; i++)); do
    read -r s m c < <(measure "${repl[@]}" disk manifest "$work/p3.img" -o "$work/p3.manifest"); ours+=("$s"); ours_mem+=("$m"); ours_cpu+=("$c")
    read -r s m c < <(measure xxhsum -H3 "$work/p3.img"); peer+=("$s"); peer_mem+=("$m"); peer_cpu+=("$c")
done
o=$(printf '%s\n' "${ours[@]}" | median); p=$(printf '%s\n' "${peer[@]}" | median)
rows+=("| P3 | block manifest of a $((2 * SIZE_MIB)) MiB file in page cache (written and fsynced) | ${o} s | xxhsum -H3 ${p} s | $(ratio "$o" "$p") | ≤ 1.0 | — | $(usage ours_mem peer_mem ours_cpu peer_cpu) |")
rm -f "$work"/p3.*
fi

if want P6; then
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
    ours=(); peer=(); ours_mem=(); peer_mem=(); ours_cpu=(); peer_cpu=()
    for ((i = 0; i < RUNS; i++)); do
        cp "$p6_base" "$work/p6-ours.img"
        cp "$p6_base" "$work/p6-peer.img"
        sync
        read -r s m c < <(measure "${repl[@]}" hrl apply "$work/p6-ours.img" "$work/p6.hrl"); ours+=("$s"); ours_mem+=("$m"); ours_cpu+=("$c")
        read -r s m c < <(measure dd if="$work/p6-payload.bin" of="$work/p6-peer.img" bs=1M conv=notrunc,fdatasync status=none); peer+=("$s"); peer_mem+=("$m"); peer_cpu+=("$c")
    done
    cmp "$work/p6-ours.img" "$changed"
    o=$(printf '%s\n' "${ours[@]}" | median); p=$(printf '%s\n' "${peer[@]}" | median)
    rows+=("| P6 | apply a sealed log to a ${SIZE_MIB} MiB replica: $((bytes >> 20)) MiB in $shape extents | ${o} s | dd conv=fdatasync ${p} s | $(ratio "$o" "$p") | ≤ 1.43 (throughput ≥ 0.7) | $((bytes >> 20)) MiB written | $(usage ours_mem peer_mem ours_cpu peer_cpu) |")
done
rm -f "$work"/p6-*
fi

if want P9; then
# P9: peak memory of sync over an 8×SIZE_MIB pair (sparse: a sixteenth of it data), cold, 1% of regions touched.
size=$((8 * SIZE_MIB)); data_mib=$((SIZE_MIB / 2)); ((data_mib > 0)) || data_mib=1
truncate -s "${size}M" "$work/p9.src"
for ((r = 0; r < 16; r++)); do
    head -c "$((data_mib * 1024 * 1024 / 16))" /dev/urandom | dd of="$work/p9.src" bs=1M seek=$((r * size / 16)) conv=notrunc status=none
done
cp --sparse=always "$work/p9.src" "$work/p9.tgt"
touch_regions "$work/p9.src" "$size"
sync
ours=(); ours_mem=(); ours_cpu=()
for ((i = 0; i < RUNS; i++)); do
    rm -f "$work/p9.run" "$work/p9.run.manifest"
    cp --sparse=always "$work/p9.tgt" "$work/p9.run"
    sync
    read -r s m c < <(measure "${repl[@]}" disk sync "$work/p9.src" "$work/p9.run" --json); ours+=("$s"); ours_mem+=("$m"); ours_cpu+=("$c")
    cmp "$work/p9.src" "$work/p9.run"
done
o=$(printf '%s\n' "${ours[@]}" | median); om=$(printf '%s\n' "${ours_mem[@]}" | median)
rows+=("| P9 | peak memory of sync, ${size} MiB pair (${data_mib} MiB data), cold | ${o} s | — | — | ≤ 200 MiB | $(json bytesSent) B | $((om / 1024)) MiB | $(med "${ours_cpu[@]}") s |")
rm -f "$work"/p9.*
fi

if want P11; then
# P11: the NBD export of a tracked disk (`repl nbd serve`, every write recorded in the HRL log) against qemu-nbd serving
# a copy of the same raw file without tracking (writeback cache, thread-pool AIO: its defaults for a raw file), driven
# by fio's nbd engine (libnbd): 4 KiB random writes, 64 KiB sequential writes, 4 KiB random reads, queue depth 16, one
# connection, P11_SECONDS per run. For each workload both servers start afresh (ours with a new log folder), each gets
# one unmeasured run (JIT, page cache, the tracker arming its write-intent regions), then measured runs alternate.
# The ratio is throughput ours ÷ peer (higher is better). Then the rotation stall: two of our servers on two copies,
# one rotating its log every second, one never, alternated; fio's p99 and max completion latency. Each server's CPU
# seconds (user+sys, from /proc) are taken around each measured run, its peak memory (VmHWM) when it stops.
p11_seconds=${P11_SECONDS:-$((SIZE_MIB >= 512 ? 5 : 1))}
head -c "${SIZE_MIB}M" /dev/urandom >"$work/p11.img"
fio_run() { # uri rw bs -> "iops KiB/s p99-us max-us" (of the write or the read side, as the workload does)
    fio --name=p11 --ioengine=nbd --uri="$1" --rw="$2" --bs="$3" --iodepth=16 --size="${SIZE_MIB}M" --time_based \
        --runtime="$p11_seconds" --output-format=terse --terse-version=3 2>"$work/fio.err" | awk -F';' -v rw="$2" '/^3;/ {
            b = (rw ~ /read/) ? 6 : 47
            p99 = 0; for (i = b + 12; i < b + 32; i++) if ($i ~ /^99.000000%=/) { split($i, kv, "="); p99 = kv[2] }
            print $(b + 2), $(b + 1), p99, $(b + 9) }'
}
start_ours() { # name [extra arguments] -> URI of a fresh `repl nbd serve` of $work/<name>.img
    local name=$1; shift
    cp "$work/p11.img" "$work/$name.img"; rm -rf "$work/$name.logs" "$work/$name.events"
    "${repl[@]}" nbd serve "$work/$name.img" --logs "$work/$name.logs" --listen 127.0.0.1:0 --export p11 --json "$@" \
        >"$work/$name.events" 2>"$work/$name.err" &
    echo $! >"$work/$name.pid"
    until grep -q '"listening"' "$work/$name.events" 2>/dev/null; do
        kill -0 "$(cat "$work/$name.pid")" || { cat "$work/$name.err" >&2; return 1; }; sleep 0.05
    done
}
uri_of() { sed -n 's/.*"uri":"\([^"]*\)".*/\1/p' "$work/$1.events" | head -n 1; }
stop_ours() { kill -TERM "$(cat "$work/$1.pid")"; wait "$(cat "$work/$1.pid")"; rm -rf "$work/$1".*; }
ticks=$(getconf CLK_TCK)
cpu_of() { awk -v t="$ticks" '{printf "%.3f", ($14 + $15) / t}' "/proc/$1/stat"; }   # pid -> CPU seconds so far
hwm_of() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }                           # pid -> peak resident KiB
fio_cpu() { # pid uri rw bs -> "iops KiB/s p99-us max-us cpu-seconds" (the server's CPU during the run)
    local pid=$1 before after result; shift
    before=$(cpu_of "$pid"); result=$(fio_run "$@"); after=$(cpu_of "$pid")
    echo "$result $(awk -v a="$before" -v b="$after" 'BEGIN{printf "%.3f", b - a}')"
}
start_peer() {
    cp "$work/p11.img" "$work/peer.img"
    peer_port=$((20000 + RANDOM % 20000))
    qemu-nbd -f raw -x p11 -b 127.0.0.1 -p "$peer_port" -t --cache=writeback --aio=threads "$work/peer.img" &
    peer_pid=$!
    until nbdinfo "nbd://127.0.0.1:$peer_port/p11" >/dev/null 2>&1; do kill -0 "$peer_pid" || return 1; sleep 0.05; done
}
stop_peer() { kill "$peer_pid"; wait "$peer_pid" || true; rm -f "$work/peer.img"; }
median_of() { printf '%s\n' "$@" | median; }
for workload in "randwrite 4k 4 KiB random writes" "write 64k 64 KiB sequential writes" "randread 4k 4 KiB random reads"; do
    read -r rw bs label <<<"$workload"
    sync; start_ours ours; start_peer
    fio_run "$(uri_of ours)" "$rw" "$bs" >/dev/null; fio_run "nbd://127.0.0.1:$peer_port/p11" "$rw" "$bs" >/dev/null
    ours=(); peer=(); ours_p99=(); peer_p99=(); ours_cpu=(); peer_cpu=()
    for ((i = 0; i < RUNS; i++)); do
        read -r iops kib p99 max c < <(fio_cpu "$(cat "$work/ours.pid")" "$(uri_of ours)" "$rw" "$bs"); ours+=("$iops"); ours_p99+=("$p99"); ours_cpu+=("$c")
        read -r iops kib p99 max c < <(fio_cpu "$peer_pid" "nbd://127.0.0.1:$peer_port/p11" "$rw" "$bs"); peer+=("$iops"); peer_p99+=("$p99"); peer_cpu+=("$c")
    done
    ours_mem=("$(hwm_of "$(cat "$work/ours.pid")")"); peer_mem=("$(hwm_of "$peer_pid")")
    stop_ours ours; stop_peer
    o=$(median_of "${ours[@]}"); p=$(median_of "${peer[@]}")
    kib_per_io=${bs%k}
    target=$([[ $rw == *read* ]] && echo "≥ 0.9" || echo "≥ 0.8")
    rows+=("| P11 | NBD, $label (${SIZE_MIB} MiB, fio nbd engine, queue depth 16, ${p11_seconds} s runs) | ${o} IOPS, $((${o%.*} * kib_per_io / 1024)) MiB/s, p99 $(median_of "${ours_p99[@]}") µs | qemu-nbd ${p} IOPS, $((${p%.*} * kib_per_io / 1024)) MiB/s, p99 $(median_of "${peer_p99[@]}") µs | $(ratio "$o" "$p") (throughput) | $target | — | $(usage ours_mem peer_mem ours_cpu peer_cpu) per run |")
done
# Rotation stall.
sync; start_ours quiet; start_ours rotating --rotate-interval 1s
fio_run "$(uri_of quiet)" randwrite 4k >/dev/null; fio_run "$(uri_of rotating)" randwrite 4k >/dev/null
quiet=(); rotating=(); quiet_p99=(); rot_p99=(); quiet_max=(); rot_max=(); quiet_cpu=(); rot_cpu=()
for ((i = 0; i < RUNS; i++)); do
    read -r iops kib p99 max c < <(fio_cpu "$(cat "$work/quiet.pid")" "$(uri_of quiet)" randwrite 4k); quiet+=("$iops"); quiet_p99+=("$p99"); quiet_max+=("$max"); quiet_cpu+=("$c")
    read -r iops kib p99 max c < <(fio_cpu "$(cat "$work/rotating.pid")" "$(uri_of rotating)" randwrite 4k); rotating+=("$iops"); rot_p99+=("$p99"); rot_max+=("$max"); rot_cpu+=("$c")
done
rotations=$(grep -c '"rotated"' "$work/rotating.events" || true)
quiet_mem=("$(hwm_of "$(cat "$work/quiet.pid")")"); rot_mem=("$(hwm_of "$(cat "$work/rotating.pid")")")
stop_ours quiet; stop_ours rotating
q=$(median_of "${quiet[@]}"); r=$(median_of "${rotating[@]}")
rows+=("| P11 | rotation stall: 4 KiB random writes while the log rotates every 1 s ($rotations rotations) vs never | ${r} IOPS, p99 $(median_of "${rot_p99[@]}") µs, max $(median_of "${rot_max[@]}") µs | no rotation ${q} IOPS, p99 $(median_of "${quiet_p99[@]}") µs, max $(median_of "${quiet_max[@]}") µs | $(ratio "$r" "$q") (throughput) | — | — | $(usage rot_mem quiet_mem rot_cpu quiet_cpu) per run |")
rm -rf "$work"/p11*
fi

if want P7; then
# P7, P8 and the seed's P9: seeds into Azurite (started here on a free loopback port), each a process of its own,
# alternating: `repl upload` as published at concurrency 8 and 1 against the obvious sequential SDK loop, directly and
# through a proxy (benchmark code) adding 20 ms per request and limiting each connection's upload to 8 MB/s.
(
    source scripts/azurite.sh
    start_azurite >/dev/null
    # At most 3 runs: Azurite keeps deleted blobs' bytes in memory until its own collection runs, and 5 runs of five
    # 1 GiB seeds exceed its in-memory store (half the machine's memory).
    dotnet run -c Release --project benchmarks/Replication.Benchmarks -- seed-compare "$SIZE_MIB" "$((RUNS < 3 ? RUNS : 3))" "${repl[0]}" >"$work/seed.txt"
)
while IFS= read -r line; do rows+=("${line#ROW }"); done < <(grep '^ROW ' "$work/seed.txt")
fi

{
    echo "Side by side, medians of $RUNS alternating runs each, $(nproc) cores, $(date -u +%Y-%m-%d)."
    echo
    echo "| id | work | ours | peer | ratio | target | bytes sent | peak memory (ours vs peer) | CPU user+sys (ours vs peer) |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${rows[@]}"
} | tee "$OUT/compare.md"
