#!/usr/bin/env bash
# Runs every test. Installs what the tests need when it is missing (the oracles qemu-img, qemu-io, vhdiinfo and
# xxh128sum from Debian's qemu-utils, libvhdi-utils and xxhash; the NBD clients nbdinfo and nbdcopy from libnbd-bin; PostgreSQL's server binaries from postgresql; Azurite from tests/services with npm ci), starts Azurite on a free
# loopback port for the Azure target's tests, builds the solution once, runs each test project and writes its
# results to artifacts/test-results/*.trx. Exits non-zero when a test failed or no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v qemu-io >/dev/null || need+=(qemu-utils)
command -v vhdiinfo >/dev/null || need+=(libvhdi-utils)
command -v xxh128sum >/dev/null || need+=(xxhash)
command -v nbdinfo >/dev/null || need+=(libnbd-bin)
command -v nbdcopy >/dev/null || need+=(libnbd-bin)
command -v script >/dev/null || need+=(bsdutils)
# PostgreSQL for the hosting store and clustered scheduling tests (each test class starts a private cluster).
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
if ((${#need[@]})); then
    echo "installing: ${need[*]}"
    sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Azurite (the Azure Storage emulator) on a free loopback port, stopped when this script exits.
source scripts/azurite.sh
start_azurite

configuration=${CONFIGURATION:-Release}
results=artifacts/test-results
rm -rf "$results"
mkdir -p "$results"
dotnet build Replication.sln -c "$configuration" -nologo -v q

status=0
for project in tests/*/*.Tests.csproj; do
    name=$(basename "$project" .csproj)
    dotnet test "$project" -c "$configuration" --no-build -nologo \
        --logger "trx;LogFileName=$name.trx" --results-directory "$results" "$@" || status=$?
done

scripts/test-totals.sh "$results" || status=$?
exit $status
