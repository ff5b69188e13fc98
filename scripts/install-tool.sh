#!/usr/bin/env bash
# Packs the repl command-line tool (package Replication.Cli) into artifacts/packages, the repository's folder feed, and
# installs it as a .NET tool from there: for the user (~/.dotnet/tools) by default, or into a folder with
# --tool-path DIR. Run it again after a change: it replaces the installed copy. The install reads the folder feed
# only, so no package of the same name elsewhere can take its place.
set -euo pipefail
cd "$(dirname "$0")/.."
where=(--global)
if [[ ${1:-} == --tool-path ]]; then
    [[ -n ${2:-} ]] || { echo "usage: scripts/install-tool.sh [--tool-path DIR]" >&2; exit 2; }
    where=(--tool-path "$2")
fi

# REPL_PACK_NO_BUILD=1 packs what the last build (CONFIGURATION, default Release) produced (the tests use it; the build runs once there).
configuration=${CONFIGURATION:-Release}
dotnet pack samples/Replication.Cli -c "$configuration" -nologo -v q ${REPL_PACK_NO_BUILD:+--no-build}
version=$(dotnet msbuild samples/Replication.Cli -nologo -getProperty:PackageVersion -p:Configuration="$configuration")
feed=$(mktemp -d)
trap 'rm -rf "$feed"' EXIT
cat >"$feed/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="repository" value="$PWD/artifacts/packages" />
  </packageSources>
</configuration>
XML
dotnet tool uninstall "${where[@]}" Replication.Cli >/dev/null 2>&1 || true
dotnet tool install "${where[@]}" Replication.Cli --version "$version" --configfile "$feed/nuget.config"
if [[ ${where[0]} == --global ]] && ! command -v repl >/dev/null; then
    echo "repl is installed in ~/.dotnet/tools, which is not on your PATH: export PATH=\"\$PATH:\$HOME/.dotnet/tools\"" >&2
fi
