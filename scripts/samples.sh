#!/usr/bin/env bash
# Proves the NuGet packages work as shipped: packs Replication.Core and Replication.Hosting into artifacts/packages (the
# folder feed nuget.config names) with a version no earlier run used, builds samples/Replication.Samples.Packages
# against exactly that version (PackageReference, not ProjectReference), checks that restore resolved both as packages
# at that version, and runs the sample. A unique version means no package cached by an earlier run can stand in; the
# packed files and their copies in the NuGet cache are removed on exit, so neither grows.
#
#   scripts/samples.sh [WORK_DIRECTORY]      the sample's disk and site go there (a temporary folder otherwise)
#
# CONFIGURATION (default Release) is the configuration packed and built; REPL_PACK_NO_BUILD=1 packs what the last build of
# that configuration produced (the tests use it; the solution build runs once there).
set -euo pipefail
cd "$(dirname "$0")/.."
configuration=${CONFIGURATION:-Release}
version="0.1.0-sample.$(date -u +%Y%m%d%H%M%S).$$"
feed=artifacts/packages
sample=samples/Replication.Samples.Packages
cache=${NUGET_PACKAGES:-$(dotnet nuget locals global-packages --list | sed 's/^global-packages: //')}
work=${1:-}
[[ -n $work ]] || { work=$(mktemp -d); own_work=1; }
cleanup() {
    rm -f "$feed"/Replication.Core."$version".*nupkg "$feed"/Replication.Hosting."$version".*nupkg
    rm -rf "${cache%/}/replication.core/$version" "${cache%/}/replication.hosting/$version"
    [[ -z ${own_work:-} ]] || rm -rf "$work"
}
trap cleanup EXIT

for library in Replication.Core Replication.Hosting; do
    dotnet pack "src/$library" -c "$configuration" -nologo -v q -o "$feed" -p:PackageVersion="$version" ${REPL_PACK_NO_BUILD:+--no-build}
done
echo "packed $version"

dotnet build "$sample" -c "$configuration" -nologo -v q -p:ReplicationPackageVersion="$version"
assets="$sample/obj/project.assets.json"
for library in Replication.Core Replication.Hosting; do
    # The restore graph names each library as "<id>/<version>" followed by "type": "package" (a project says "project").
    if ! grep -A3 -F "\"$library/$version\": {" "$assets" | grep -q '"type": "package"'; then
        echo "samples.sh: $assets does not resolve $library $version as a package" >&2
        exit 1
    fi
    echo "resolved $library $version as a package"
done

dotnet "$sample/bin/$configuration/net10.0/Replication.Samples.Packages.dll" "$work"
