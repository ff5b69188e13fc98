#!/usr/bin/env bash
# Runs every test. Installs what the tests need when it is missing (the oracles qemu-img, qemu-io and vhdiinfo
# from Debian's qemu-utils and libvhdi-utils; Azurite from tests/services with npm ci), starts Azurite on a free
# loopback port for the Azure target's tests, builds the solution once, runs each test project and writes its
# results to artifacts/test-results/*.trx. Exits non-zero when a test failed or no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v qemu-io >/dev/null || need+=(qemu-utils)
command -v vhdiinfo >/dev/null || need+=(libvhdi-utils)
if ((${#need[@]})); then
    echo "installing: ${need[*]}"
    sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Azurite, the Azure Storage emulator, in memory on a free loopback port; stopped when this script exits.
if [[ ! -x tests/services/node_modules/.bin/azurite-blob ]]; then
    npm ci --prefix tests/services --no-audit --no-fund --loglevel=error
fi
azurite_port=$(node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
tests/services/node_modules/.bin/azurite-blob --inMemoryPersistence --skipApiVersionCheck \
    --blobHost 127.0.0.1 --blobPort "$azurite_port" --silent &
azurite_pid=$!
# Azurite logs "closed" on SIGTERM but may not exit: wait a bounded time, then SIGKILL it.
stop_azurite() {
    kill "$azurite_pid" 2>/dev/null || return 0
    for ((i = 0; i < 30; i++)); do
        kill -0 "$azurite_pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$azurite_pid" 2>/dev/null || true
}
trap stop_azurite EXIT
for ((i = 0; i < 100; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$azurite_port") 2>/dev/null; then
        break
    fi
    if ! kill -0 "$azurite_pid" 2>/dev/null; then
        echo "azurite exited before it accepted connections" >&2
        exit 1
    fi
    sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$azurite_port") 2>/dev/null || { echo "azurite did not accept connections on port $azurite_port" >&2; exit 1; }
# Azurite's well-known development account and key (public, in Azurite's documentation; no real credential).
export REPL_AZURITE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$azurite_port/devstoreaccount1;"

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
