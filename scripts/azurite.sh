# Sourced by scripts: start_azurite installs Azurite (npm ci in tests/services) when missing, starts it in memory on a
# free loopback port, waits until it accepts connections, exports REPL_AZURITE_CONNECTION_STRING and stops it on exit.
start_azurite() {
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
}
