#!/usr/bin/env bash
# Failover and failback figures (PERFORMANCE.md P13, P14) with the CLI as `dotnet publish -c Release` makes it.
#
# P13: a planned failover of a disk with PENDING_MIB written since the last cycle (through `repl nbd serve`, so the
#      writes are tracked as a guest's would be), from the request to the recovered machine's disks and description
#      written; against `dd conv=fdatasync` copying the same number of bytes.
# P14: after the recovered machine changed 5% of its disk, failback minimising downtime against a full download of the
#      same disk: bytes sent and time, on two identical setups built the same way.
#
#   benchmarks/failover.sh                          # 1 GiB disk, 64 MiB pending, 3 runs
#   SIZE_MIB=64 PENDING_MIB=4 RUNS=1 benchmarks/failover.sh   # the short mode CI uses
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-1024}
PENDING_MIB=${PENDING_MIB:-64}
RUNS=${RUNS:-3}

need=()
command -v qemu-io >/dev/null || need+=(qemu-utils)
if ((${#need[@]})); then
    sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d)
server=""
cleanup() { [[ -n $server ]] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
dotnet publish samples/Replication.Cli -c Release -o "$work/repl" -nologo -v q >"$work/publish.log" 2>&1 || { tail -n 20 "$work/publish.log" >&2; exit 1; }
repl="$work/repl/repl"

# Wall seconds of a command, to the millisecond (its output kept in $work/stdout).
seconds() {
    local start=$EPOCHREALTIME
    "$@" >"$work/stdout" 2>"$work/stderr" || { cat "$work/stderr" >&2; return 1; }
    awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'
}
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$work/stdout" | head -n 1; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }

# Writes through the disk's tracker as a guest would: `repl nbd serve` on a Unix socket, qemu-io scattered 1 MiB writes
# of a pattern covering $2 MiB, then SIGTERM (the server flushes and seals the log).
guest_writes() {
    local disk=$1 mib=$2 pattern=$3 socket="$work/nbd.sock" line
    rm -f "$socket" "$work/serve.fifo"
    mkfifo "$work/serve.fifo"
    "$repl" nbd serve "$disk" --socket "$socket" --json >"$work/serve.fifo" 2>"$work/serve.err" &
    server=$!
    exec 3<"$work/serve.fifo"
    read -r line <&3 || { cat "$work/serve.err" >&2; exit 1; }   # the "listening" event: it serves from here
    local args=() stride=$((SIZE_MIB / mib)) i
    for ((i = 0; i < mib; i++)); do args+=(-c "write -P $pattern $((i * stride))M 1M"); done
    qemu-io -f raw "${args[@]}" -c flush "nbd+unix:///$(basename "$disk")?socket=$socket" >/dev/null
    kill -TERM "$server"; cat <&3 >/dev/null; wait "$server"; server=""; exec 3<&-
}

# A protected machine with data on every block and PENDING_MIB written since its last cycle.
setup() {
    local dir=$1
    mkdir -p "$dir"
    head -c $((SIZE_MIB << 20)) /dev/urandom >"$dir/vm.img"
    "$repl" protect "$dir/vm.img" --site "$dir/site" --create --json >/dev/null
    guest_writes "$dir/vm.img" "$PENDING_MIB" 0x5a
}

p13=() dd13=() p14m=() p14f=() b14m=() b14f=() d14m=() d14f=()
for ((run = 0; run < RUNS; run++)); do
    rm -rf "$work/a" "$work/b" "$work/dd"
    setup "$work/a"
    p13+=("$(seconds "$repl" failover --kind planned --site "$work/a/site" --out "$work/a/dr" --json)")
    mkdir -p "$work/dd"; head -c $((PENDING_MIB << 20)) /dev/urandom >"$work/dd/in"; sync
    dd13+=("$(seconds dd if="$work/dd/in" of="$work/dd/out" bs=1M conv=fdatasync status=none)")

    # P14: two identical committed failovers; the recovered machine changes 5% of its disk in each.
    setup "$work/b"
    "$repl" failover --kind planned --site "$work/b/site" --out "$work/b/dr" --json >/dev/null
    for side in a b; do
        "$repl" commit --site "$work/$side/site" --json >/dev/null
        args=() changed=$((SIZE_MIB / 20 > 0 ? SIZE_MIB / 20 : 1))
        for ((i = 0; i < changed; i++)); do args+=(-c "write -P 0x77 $((i * 20))M 1M"); done
        qemu-io -f vhdx "${args[@]}" "$work/$side/dr/vm-disk-0.vhdx" >/dev/null
    done
    sync
    p14m+=("$(seconds "$repl" failback --mode minimize-downtime --site "$work/a/site" --json)"); b14m+=("$(field bytesSent)"); d14m+=("$(field downtimeSeconds)")
    p14f+=("$(seconds "$repl" failback --mode full-download --site "$work/b/site" --json)"); b14f+=("$(field bytesSent)"); d14f+=("$(field downtimeSeconds)")
    for side in a b; do
        qemu-img compare -q -f raw -F vhdx "$work/$side/vm.img" "$work/$side/dr/vm-disk-0.vhdx" || { echo "failback ($side) left the primary unlike the recovered disk" >&2; exit 1; }
    done
done

m13=$(printf '%s\n' "${p13[@]}" | median); d13=$(printf '%s\n' "${dd13[@]}" | median)
mm=$(printf '%s\n' "${p14m[@]}" | median); mf=$(printf '%s\n' "${p14f[@]}" | median)
bm=$(printf '%s\n' "${b14m[@]}" | median); bf=$(printf '%s\n' "${b14f[@]}" | median)
dm=$(printf '%s\n' "${d14m[@]}" | median); df=$(printf '%s\n' "${d14f[@]}" | median)
echo "Failover and failback, medians of $RUNS runs, $(nproc) cores, $(date -u +%F); ${SIZE_MIB} MiB disk."
echo
echo "| id | work | ours | peer | ratio | target |"
echo "| --- | --- | --- | --- | --- | --- |"
echo "| P13 | planned failover, ${PENDING_MIB} MiB pending, to recovered disks written (repl failover --kind planned) | ${m13} s | dd conv=fdatasync of ${PENDING_MIB} MiB ${d13} s | $(ratio "$m13" "$d13") | ≤ 3 |"
echo "| P14 | failback minimise downtime after 5% changed: time | ${mm} s | full download ${mf} s | $(ratio "$mm" "$mf") | ≤ 0.5 |"
echo "| P14 | the same: downtime (stop request to last byte written, as the failback reports it) | ${dm} s | full download ${df} s | $(ratio "$dm" "$df") | — |"
echo "| P14 | the same: bytes sent | ${bm} B | full download ${bf} B | $(ratio "$bm" "$bf") | ≤ 0.1 |"
